package kubelet_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/anypb"
	"keel.dev/keel/pkg/api"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	authenticationv1 "keel.dev/keel/pkg/apis/authentication/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/client"
	"keel.dev/keel/pkg/kubelet"
	"keel.dev/keel/pkg/pki"
)

// TestServiceAccountTokenVolume: with an apiserver that signs tokens, a
// pod gets the kube-api-access volume; the kubelet, as its node (every
// request allowed), requests a token bound to the pod and writes it with
// ca.crt and namespace; the token authenticates as the pod's service
// account; a change of kube-root-ca.crt reaches the file; the volume goes
// with the pod.
func TestServiceAccountTokenVolume(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, func(cfg *apiserver.Config) {
		cfg.ServiceAccountSigningKey = key
		cfg.ServiceAccountKeys = []crypto.PublicKey{key.Public()}
	})
	rootCA := &corev1.ConfigMap{Metadata: &metav1.ObjectMeta{Name: api.RootCAConfigMapName}, Data: map[string]string{"ca.crt": "CA-1"}}
	if _, err := e.client.ConfigMaps("default").Create(ctx(t), rootCA, client.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var root string
	e.startKubelet(t, func(c *kubelet.Config) { root = c.RootDir })
	created := e.create(t, testPod("sa", "Always", "app"))
	vols := created.GetSpec().GetVolumes()
	if len(vols) != 1 || !strings.HasPrefix(vols[0].GetName(), api.ServiceAccountVolumePrefix) {
		t.Fatalf("volumes %v, want the token volume", vols)
	}
	e.waitPod(t, "sa", "Running", phase("Running"))
	dir := filepath.Join(root, "pods", created.GetMetadata().GetUid(), "volumes", "projected", vols[0].GetName())
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return string(b)
	}
	if read("namespace") != "default" || read("ca.crt") != "CA-1" {
		t.Errorf("namespace %q, ca.crt %q", read("namespace"), read("ca.crt"))
	}
	tok := read("token")
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	caOnly := e.api.TLS(pki.AdminName)
	caOnly.Certificates, caOnly.GetClientCertificate = nil, nil
	asPod, err := client.New(client.Options{Servers: []string{e.api.Addr}, TLS: caOnly, BearerToken: tok})
	if err != nil {
		t.Fatal(err)
	}
	defer asPod.Close()
	// The token authenticates as the pod's service account.
	review, err := anypb.New(&authenticationv1.SelfSubjectReview{})
	if err != nil {
		t.Fatal(err)
	}
	out, err := asPod.API().Create(ctx(t), &apiv1.CreateRequest{Resource: "selfsubjectreviews", Object: review})
	if err != nil {
		t.Fatalf("whoami with the pod's token: %v", err)
	}
	var who authenticationv1.SelfSubjectReview
	if err := out.UnmarshalTo(&who); err != nil {
		t.Fatal(err)
	}
	if u := who.GetStatus().GetUserInfo(); u.GetUsername() != "system:serviceaccount:default:default" || !slices.Contains(u.GetGroups(), "system:serviceaccounts:default") {
		t.Errorf("the pod's token is %v", u)
	}

	rootCA.Data["ca.crt"] = "CA-2"
	cm, err := e.client.ConfigMaps("default").Get(ctx(t), api.RootCAConfigMapName)
	if err != nil {
		t.Fatal(err)
	}
	cm.Data = rootCA.Data
	if _, err := e.client.ConfigMaps("default").Update(ctx(t), cm, client.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "ca.crt follows the ConfigMap", func() (bool, string) {
		return read("ca.crt") == "CA-2", read("ca.crt")
	})

	if _, _, err := e.client.Pods("default").Delete(ctx(t), "sa", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the pod's volumes removed", func() (bool, string) {
		_, err := os.Stat(filepath.Join(root, "pods", created.GetMetadata().GetUid()))
		return errors.Is(err, fs.ErrNotExist), "still there"
	})
}
