package main

import (
	"testing"
	"time"
)

// The loopback probe runs its round trips and times one of them.
func TestLoopbackProbe(t *testing.T) {
	d, err := loopbackProbe()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loopback round trip: %v", d)
	if d <= 0 || d > time.Second {
		t.Fatalf("a loopback round trip took %v", d)
	}
}
