package providertest

// TB is the part of testing.TB the doubles use, so a double can also run
// outside a test (for example behind a manual curl session).
type TB interface {
	Helper()
	Cleanup(func())
	Fatal(args ...any)
}
