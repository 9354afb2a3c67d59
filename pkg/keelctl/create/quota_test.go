package create_test

import (
	"strings"
	"testing"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

// TestCreateQuota: create quota builds the ResourceQuota of --hard and
// --scopes, which admission then enforces; bad pairs and scopes are
// refused, naming them, and create nothing.
func TestCreateQuota(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartClusterWith(t, func(cfg *apiserver.Config) {
		cfg.AuthorizationModes = []string{apiserver.ModeNode, apiserver.ModeRBAC}
	})
	ctx := k.Ctx()
	if out := k.Run("create", "quota", "--help").OK(t); !strings.Contains(out, "quota NAME [--hard=RESOURCE=QUANTITY,...] [--scopes=SCOPE,...]") ||
		!strings.Contains(out, "--hard string") || !strings.Contains(out, "--scopes string") {
		t.Errorf("create quota --help:\n%s", out)
	}
	k.Run("create", "namespace", "team").OK(t)
	if out := k.Run("create", "quota", "compute", "-n", "team", "--hard=pods=2,cpu=1,memory=1Gi,count/configmaps=3").OK(t); out != "resourcequota/compute created\n" {
		t.Errorf("create quota: %q", out)
	}
	rq, err := client.For[*corev1.ResourceQuota](k.C, "team").Get(ctx, "compute")
	if err != nil {
		t.Fatal(err)
	}
	h := rq.GetSpec().GetHard()
	if len(h) != 4 || h["pods"].GetString_() != "2" || h["cpu"].GetString_() != "1" || h["memory"].GetString_() != "1Gi" || h["count/configmaps"].GetString_() != "3" {
		t.Errorf("hard %v", h)
	}
	if out := k.Run("create", "quota", "besteffort", "--hard=pods=1", "--scopes=BestEffort, NotTerminating").OK(t); out != "resourcequota/besteffort created\n" {
		t.Errorf("create quota --scopes: %q", out)
	}
	rq, err = client.For[*corev1.ResourceQuota](k.C, "default").Get(ctx, "besteffort")
	if err != nil {
		t.Fatal(err)
	}
	if s := rq.GetSpec().GetScopes(); strings.Join(s, ",") != "BestEffort,NotTerminating" {
		t.Errorf("scopes %v", s)
	}
	// The scoped quota admits one best-effort pod, then refuses.
	pod := func(name string) *corev1.Pod {
		return &corev1.Pod{Metadata: &metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &corev1.PodSpec{Containers: []*corev1.Container{{Name: "c", Image: testImage}}}}
	}
	if _, err := k.C.Pods("default").Create(ctx, pod("a"), client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := k.C.Pods("default").Create(ctx, pod("b"), client.CreateOptions{}); err == nil ||
		!strings.Contains(err.Error(), "exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1") {
		t.Errorf("second best-effort pod: %v, want exceeded quota", err)
	}

	k.Run("create", "quota", "bad", "--hard=pods").Fails(t, `--hard "pods": want RESOURCE=QUANTITY`)
	k.Run("create", "quota", "bad", "--hard=cpu=lots").Fails(t, "--hard cpu=lots")
	k.Run("create", "quota", "bad", "--hard=pods=1", "--scopes=Sometimes").Fails(t, "spec.scopes[0]")
	if _, err := client.For[*corev1.ResourceQuota](k.C, "default").Get(ctx, "bad"); err == nil {
		t.Error("a refused quota was stored")
	}
}
