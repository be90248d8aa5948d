package providers

// StepStatus is the outcome of one step of a connectivity check.
type StepStatus string

// Step outcomes, as shown to users in the test response.
const (
	StepPassed StepStatus = "PASSED"
	StepFailed StepStatus = "FAILED"
	// StepSkipped: the configuration lacks what the step needs (a bucket,
	// a feed URL); its message says what to add.
	StepSkipped StepStatus = "SKIPPED"
)

// Step is one stage of a check ("resolve host", "authenticate", "list bucket"),
// so a user sees which part failed. Message never contains a secret.
type Step struct {
	Name    string
	Status  StepStatus
	Message string
}

// Result is the outcome of a connectivity check. Message is user-facing,
// useful ("access denied by bucket policy") and never contains a secret.
type Result struct {
	Success bool
	Message string
	Steps   []Step
	// TimedOut is set when the check ran out of its deadline.
	TimedOut bool
	// Rotated is the full config with the secrets the provider replaced
	// during the check (a refresh token it answered anew and revoked the
	// old one of, as Box does): the caller must store it, or the
	// connection dies with the check. Nil when nothing was replaced.
	Rotated Config
}

// failStep is how a check fails: the step name failed with msg after the
// steps that passed, and msg is the result's message too, so a user reads
// the same cause in both places.
func failStep(name, msg string, passed ...Step) Result {
	return Result{Message: msg, Steps: append(passed, Step{Name: name, Status: StepFailed, Message: msg})}
}

// skipped is the result of a check whose configuration lacks what its only
// step needs (Mixpeek's clients have no feed or API URL field): nothing is
// refused, so it passes, and its message says what to add.
func skipped(step, msg string) Result {
	return Result{Success: true, Message: msg, Steps: []Step{{Name: step, Status: StepSkipped, Message: msg}}}
}
