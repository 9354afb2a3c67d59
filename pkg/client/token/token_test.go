package token

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
	clocktesting "k8s.io/utils/clock/testing"

	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
)

func answered(issued time.Time, secs int64) *authenticationv1.TokenRequest {
	return &authenticationv1.TokenRequest{
		Spec:   &authenticationv1.TokenRequestSpec{ExpirationSeconds: &secs},
		Status: &authenticationv1.TokenRequestStatus{Token: "t", ExpirationTimestamp: timestamppb.New(issued.Add(time.Duration(secs) * time.Second))},
	}
}

func TestNeedsRefresh(t *testing.T) {
	issued := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name  string
		tr    *authenticationv1.TokenRequest
		after time.Duration
		want  bool
	}{
		{"fresh", answered(issued, 3600), 0, false},
		{"before 80%", answered(issued, 3600), 2879 * time.Second, false},
		{"at 80%", answered(issued, 3600), 2880 * time.Second, true},
		{"expired", answered(issued, 3600), 2 * time.Hour, true},
		{"long-lived, young", answered(issued, 7*24*3600), 23 * time.Hour, false},
		{"long-lived, older than 24h", answered(issued, 7*24*3600), 24 * time.Hour, true},
		{"no expiry", &authenticationv1.TokenRequest{Status: &authenticationv1.TokenRequestStatus{Token: "t"}}, 0, true},
	} {
		if got := NeedsRefresh(c.tr, issued.Add(c.after)); got != c.want {
			t.Errorf("%s: NeedsRefresh = %v, want %v", c.name, got, c.want)
		}
	}
}

// fakeAPI answers token requests as the apiserver does: the lifetime
// asked for, from the clock's now; fail makes it refuse.
type fakeAPI struct {
	clock *clocktesting.FakeClock
	asked []*authenticationv1.TokenRequest
	fail  bool
}

func (f *fakeAPI) request(_ context.Context, ns, name string, tr *authenticationv1.TokenRequest) (*authenticationv1.TokenRequest, error) {
	if f.fail {
		return nil, errors.New("apiserver down")
	}
	f.asked = append(f.asked, tr)
	out := answered(f.clock.Now(), tr.GetSpec().GetExpirationSeconds())
	out.Spec.BoundObjectRef = tr.GetSpec().GetBoundObjectRef()
	out.Status.Token = fmt.Sprintf("%s/%s/%s#%d", ns, name, tr.GetSpec().GetBoundObjectRef().GetUid(), len(f.asked))
	return out, nil
}

func TestManager(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	api := &fakeAPI{clock: clk}
	m := NewManager(api.request, clk, nil)
	ctx := context.Background()
	web := Pod{Namespace: "team", Name: "web", UID: "u1", ServiceAccount: "default"}
	get := func(p Pod, audience string, secs int64) string {
		t.Helper()
		tok, err := m.Get(ctx, p, audience, secs)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	first := get(web, "", 600)
	if first != "team/default/u1#1" {
		t.Fatalf("token %q", first)
	}
	ref := api.asked[0].GetSpec()
	if ref.GetBoundObjectRef().GetKind() != "Pod" || ref.GetBoundObjectRef().GetName() != "web" || ref.GetBoundObjectRef().GetUid() != "u1" ||
		ref.GetExpirationSeconds() != 600 || len(ref.GetAudiences()) != 0 {
		t.Errorf("asked for %v", ref)
	}
	if get(web, "", 600) != first || len(api.asked) != 1 {
		t.Errorf("a fresh token was not served from the cache")
	}
	if get(web, "vault", 600) == first || api.asked[1].GetSpec().GetAudiences()[0] != "vault" {
		t.Errorf("another audience shares the token")
	}

	if at, ok := m.RefreshAt("u1"); !ok || !at.Equal(clk.Now().Add(480*time.Second)) {
		t.Errorf("RefreshAt = %v %v, want in 480s", at, ok)
	}
	if _, ok := m.RefreshAt("other"); ok {
		t.Errorf("RefreshAt of a pod without tokens")
	}

	// 80% of 600s: a new token.
	clk.Step(479 * time.Second)
	if get(web, "", 600) != first {
		t.Errorf("refreshed before 80%% of the lifetime")
	}
	clk.Step(time.Second)
	second := get(web, "", 600)
	if second == first {
		t.Errorf("not refreshed at 80%% of the lifetime")
	}

	// The apiserver is down: the cached token serves while it is valid.
	api.fail = true
	clk.Step(480 * time.Second)
	if got := get(web, "", 600); got != second {
		t.Errorf("during an outage got %q, want the cached %q", got, second)
	}
	clk.Step(120 * time.Second) // second has expired
	if _, err := m.Get(ctx, web, "", 600); err == nil {
		t.Errorf("an expired token was served")
	}
	api.fail = false

	// A deleted pod's tokens are forgotten.
	third := get(web, "", 600)
	m.ForgetPod("u1")
	if get(web, "", 600) == third {
		t.Errorf("a forgotten pod's token was served")
	}
	if len(m.cache) != 1 {
		t.Errorf("cache holds %d tokens, want 1 (the expired and forgotten ones dropped)", len(m.cache))
	}

	// Without a pod, a token of the ServiceAccount alone, bound to nothing
	// (keel-controller-manager's controllers).
	controller := Pod{Namespace: "kube-system", ServiceAccount: "replicaset-controller"}
	if tok := get(controller, "", 3600); tok != "kube-system/replicaset-controller/#"+fmt.Sprint(len(api.asked)) ||
		api.asked[len(api.asked)-1].GetSpec().GetBoundObjectRef() != nil {
		t.Errorf("unbound token %q, asked for %v", tok, api.asked[len(api.asked)-1].GetSpec())
	}
}
