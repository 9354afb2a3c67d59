package benchutil

import (
	"strings"
	"testing"
	"time"
)

func TestPodTimes(t *testing.T) {
	start := time.Now()
	var pt PodTimes
	pt.Observe("a", false)
	pt.Observe("b", true)
	if _, _, err := pt.Since(start, 2); err == nil || !strings.Contains(err.Error(), "2 pods created and 1 bound of 2") {
		t.Fatalf("Since with a pod unbound: err %v, want the counts", err)
	}
	pt.Observe("a", true)
	pt.Observe("b", true) // a repeated event moves neither time
	created, bound, err := pt.Since(start, 2)
	if err != nil {
		t.Fatal(err)
	}
	if created < 0 || bound < created {
		t.Fatalf("created %v, bound %v: want 0 <= created <= bound", created, bound)
	}
	if _, _, err := pt.Since(start, 3); err == nil {
		t.Fatal("Since(3) with 2 pods seen: no error")
	}
}
