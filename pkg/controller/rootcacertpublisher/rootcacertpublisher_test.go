package rootcacertpublisher_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"keel.dev/keel/pkg/api"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver/testserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/controller/rootcacertpublisher"
	"keel.dev/keel/pkg/pki"
	"keel.dev/keel/pkg/testutil"
)

const bundle = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

func TestDecide(t *testing.T) {
	ns := func(terminating bool) *corev1.Namespace {
		n := &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}, Status: &corev1.NamespaceStatus{Phase: api.NamespaceActive}}
		if terminating {
			n.Metadata.DeletionTimestamp = timestamppb.New(time.Unix(1, 0))
			n.Status.Phase = api.NamespaceTerminating
		}
		return n
	}
	cm := func(data map[string]string, annotations map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: rootcacertpublisher.ConfigMapName, Namespace: "team",
			ResourceVersion: "7", Labels: map[string]string{"keep": "me"}, Annotations: annotations}, Data: data}
	}
	described := func(extra ...string) map[string]string {
		a := map[string]string{rootcacertpublisher.DescriptionAnnotation: rootcacertpublisher.Description}
		for i := 0; i+1 < len(extra); i += 2 {
			a[extra[i]] = extra[i+1]
		}
		return a
	}
	good := map[string]string{rootcacertpublisher.DataKey: bundle}
	withBinary := cm(good, described())
	withBinary.BinaryData = map[string][]byte{"x": []byte("y")}
	for _, tc := range []struct {
		name           string
		ns             *corev1.Namespace
		have           *corev1.ConfigMap
		create, update bool
	}{
		{"missing", ns(false), nil, true, false},
		{"up to date", ns(false), cm(good, described("other", "kept")), false, false},
		{"content changed", ns(false), cm(map[string]string{rootcacertpublisher.DataKey: "forged"}, described()), false, true},
		{"key added", ns(false), cm(map[string]string{rootcacertpublisher.DataKey: bundle, "extra": "x"}, described()), false, true},
		{"content removed", ns(false), cm(nil, described()), false, true},
		{"binary data added", ns(false), withBinary, false, true},
		{"description missing", ns(false), cm(good, nil), false, true},
		{"terminating, missing", ns(true), nil, false, false},
		{"terminating, changed", ns(true), cm(nil, nil), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			create, update := rootcacertpublisher.Decide(tc.ns, tc.have, bundle)
			if (create != nil) != tc.create || (update != nil) != tc.update {
				t.Fatalf("Decide: create %v, update %v; want create %v, update %v", create, update, tc.create, tc.update)
			}
			got := create
			if update != nil {
				got = update
				m := update.GetMetadata()
				if m.GetResourceVersion() != "7" || m.GetLabels()["keep"] != "me" {
					t.Errorf("update lost the metadata: %v", m)
				}
				if tc.have.GetMetadata().GetAnnotations()["other"] != m.GetAnnotations()["other"] {
					t.Errorf("update lost an annotation: %v", m.GetAnnotations())
				}
			}
			if got == nil {
				return
			}
			m := got.GetMetadata()
			if m.GetName() != rootcacertpublisher.ConfigMapName || m.GetNamespace() != "team" ||
				fmt.Sprint(got.GetData()) != fmt.Sprint(good) || len(got.GetBinaryData()) != 0 ||
				m.GetAnnotations()[rootcacertpublisher.DescriptionAnnotation] != rootcacertpublisher.Description {
				t.Errorf("want %s/%s holding exactly the bundle, described; got %v", "team", rootcacertpublisher.ConfigMapName, got)
			}
		})
	}
	// Decide does not change what it is given (the informer's object).
	have := cm(nil, nil)
	rootcacertpublisher.Decide(ns(false), have, bundle)
	if have.GetData() != nil || have.GetMetadata().GetAnnotations() != nil {
		t.Errorf("Decide changed its input: %v", have)
	}
}

// TestPublisher runs the publisher as the controller-manager (its
// certificate, its bootstrap role) against an RBAC apiserver: a new
// namespace, and those the apiserver makes at start, get the ConfigMap;
// a changed one is restored, a deleted one recreated.
func TestPublisher(t *testing.T) {
	s := testserver.StartSecure(t, nil, nil)
	s.FailOnForbidden()
	cm, admin := s.Client(pki.ControllerManagerName), s.Client(pki.AdminName)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	f := informer.NewFactory(cm, 0)
	ctl := rootcacertpublisher.New(cm, f, []byte(bundle), nil)
	f.Start(ctx)
	done := make(chan struct{})
	go func() { ctl.Run(ctx, 1); close(done) }()
	t.Cleanup(func() { cancel(); <-done; f.Shutdown() })

	if _, err := admin.Namespaces().Create(ctx, &corev1.Namespace{Metadata: &metav1.ObjectMeta{Name: "team"}}, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := client.For[*corev1.ConfigMap](admin, "team")
	var first string
	published := func(ns string, uid *string) func() error {
		return func() error {
			got, err := client.For[*corev1.ConfigMap](admin, ns).Get(ctx, rootcacertpublisher.ConfigMapName)
			if err != nil {
				return err
			}
			if got.GetData()[rootcacertpublisher.DataKey] != bundle || len(got.GetData()) != 1 {
				return fmt.Errorf("data %v", got.GetData())
			}
			if uid != nil {
				*uid = got.GetMetadata().GetUid()
			}
			return nil
		}
	}
	testutil.Eventually(t, 30*time.Second, "the ConfigMap published in a new namespace", published("team", &first))
	testutil.Eventually(t, 30*time.Second, "the ConfigMap published in kube-system", published("kube-system", nil))

	got, err := cms.Get(ctx, rootcacertpublisher.ConfigMapName)
	if err != nil {
		t.Fatal(err)
	}
	got.Data = map[string]string{rootcacertpublisher.DataKey: "forged"}
	if _, err := cms.Update(ctx, got, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the changed ConfigMap restored", published("team", nil))

	if _, _, err := cms.Delete(ctx, rootcacertpublisher.ConfigMapName, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, 30*time.Second, "the deleted ConfigMap recreated", func() error {
		var uid string
		if err := published("team", &uid)(); err != nil {
			return err
		}
		if uid == first {
			return errors.New("still the deleted one")
		}
		return nil
	})
}
