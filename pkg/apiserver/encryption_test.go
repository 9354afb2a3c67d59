package apiserver_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	apiv1 "keel.dev/keel/pkg/apis/api/v1"
	apiextv1 "keel.dev/keel/pkg/apis/apiextensions/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/apiserver"
	"keel.dev/keel/pkg/apiserver/encryptionconfig"
	"keel.dev/keel/pkg/manifest"
	"keel.dev/keel/pkg/testutil"
)

// encryptionConfig writes an EncryptionConfiguration for secrets with the
// given providers (YAML list items) and loads it.
func encryptionConfig(t *testing.T, providers ...string) *encryptionconfig.Config {
	t.Helper()
	doc := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [secrets]\n  providers:\n"
	for _, p := range providers {
		doc += "  - " + p + "\n"
	}
	file := filepath.Join(t.TempDir(), "encryption.yaml")
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := encryptionconfig.Load(file, apiserver.StoredResources())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// aesgcmKey is the provider line of an aesgcm key named name.
func aesgcmKey(name string, b byte) string {
	return "aesgcm: {keys: [{name: " + name + ", secret: " + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) + "}]}"
}

// rawValue is what etcd holds under key.
func rawValue(c *client, key string) []byte {
	c.t.Helper()
	resp, err := c.etcd.Get(c.ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		c.t.Fatalf("etcd get %s: %v (%d values)", key, err, len(resp.Kvs))
	}
	return resp.Kvs[0].Value
}

func secret(ns, name, data string) *corev1.Secret {
	return &corev1.Secret{Metadata: &metav1.ObjectMeta{Namespace: ns, Name: name}, Type: "Opaque",
		Data: map[string][]byte{"password": []byte(data)}}
}

// startEncrypted runs an apiserver under Node,RBAC whose encryption config
// is *cfg at each (re)start.
func startEncrypted(t *testing.T, cfg **encryptionconfig.Config) *client {
	return start(t, func(c *apiserver.Config) {
		c.AuthorizationModes = slices.Clone(apiserver.DefaultAuthorizationModes)
		c.Encryption = *cfg
	})
}

// restart stops the apiserver and starts it again on the same etcd, with
// whatever its configure function now gives.
func restart(c *client) *client {
	c.t.Helper()
	c.srv.Stop()
	c.srv.Start()
	return newClient(c.t, c.srv)
}

func TestEncryptionAtRest(t *testing.T) {
	cfg := encryptionConfig(t, aesgcmKey("key1", 1), "identity: {}")
	c := startEncrypted(t, &cfg)
	w := watch[*corev1.Secret](c, &apiv1.WatchRequest{Namespace: "default"})

	mustCreate(c, secret("default", "db", "hunter2-plaintext"))
	mustCreate(c, configMap("default", "settings", map[string]string{"color": "cm-plaintext"}))

	raw := rawValue(c, "/keel/secrets/default/db")
	if !bytes.HasPrefix(raw, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("stored Secret starts %q, want k8s:enc:aesgcm:v1:key1:", raw[:min(len(raw), 30)])
	}
	if bytes.Contains(raw, []byte("hunter2-plaintext")) {
		t.Fatal("the stored Secret shows its data in plain text")
	}
	if rawCM := rawValue(c, "/keel/configmaps/default/settings"); bytes.HasPrefix(rawCM, []byte("k8s:enc:")) || !bytes.Contains(rawCM, []byte("cm-plaintext")) {
		t.Fatalf("ConfigMaps are not listed and must stay unencrypted: %q", rawCM)
	}

	// Get, List and Watch return the plaintext.
	if got := mustGet[*corev1.Secret](c, "default", "db"); string(got.Data["password"]) != "hunter2-plaintext" {
		t.Fatalf("get: %v", got.Data)
	}
	items, _ := mustList[*corev1.Secret](c, &apiv1.ListRequest{Resource: "secrets", Namespace: "default"})
	if len(items) != 1 || string(items[0].Data["password"]) != "hunter2-plaintext" {
		t.Fatalf("list: %v", items)
	}
	if e := w.expect("ADDED", "db"); string(e.Obj.(*corev1.Secret).Data["password"]) != "hunter2-plaintext" {
		t.Fatalf("watch: %v", e.Obj)
	}
	got := mustGet[*corev1.Secret](c, "default", "db")
	got.Data["password"] = []byte("changed")
	mustUpdate(c, got)
	if e := w.expect("MODIFIED", "db"); string(e.Obj.(*corev1.Secret).Data["password"]) != "changed" {
		t.Fatalf("watch: %v", e.Obj)
	}
	mustDelete(c, &apiv1.DeleteRequest{Resource: "secrets", Namespace: "default", Name: "db"})
	if e := w.expect("DELETED", "db"); string(e.Obj.(*corev1.Secret).Data["password"]) != "changed" {
		t.Fatalf("watch: %v", e.Obj)
	}

	// A no-op update of a value the first provider wrote writes nothing.
	mustCreate(c, secret("default", "steady", "x"))
	steady := mustGet[*corev1.Secret](c, "default", "steady")
	writesNothing(c, "a no-op update", func() { mustUpdate(c, steady) })

	// The ciphertext is bound to its key: copied under another name it
	// does not decrypt.
	mustCreate(c, secret("default", "original", "bound-to-key"))
	moved := "/keel/secrets/default/moved"
	if _, err := c.etcd.Put(c.ctx, moved, string(rawValue(c, "/keel/secrets/default/original"))); err != nil {
		t.Fatal(err)
	}
	_, err := get[*corev1.Secret](c, "default", "moved")
	wantCode(t, err, codes.Internal)
	if !strings.Contains(err.Error(), moved) || strings.Contains(err.Error(), "bound-to-key") {
		t.Fatalf("error %q should name the key and not show the value", err)
	}
	if _, err := c.etcd.Delete(c.ctx, moved); err != nil {
		t.Fatal(err)
	}
}

func TestEncryptionKeyRotation(t *testing.T) {
	var cfg *encryptionconfig.Config // none at first
	c := startEncrypted(t, &cfg)
	mustCreate(c, secret("default", "from-before", "p0"))
	if raw := rawValue(c, "/keel/secrets/default/from-before"); bytes.HasPrefix(raw, []byte("k8s:enc:")) {
		t.Fatal("encrypted without a config")
	}

	// Encryption on: key1 writes, identity still reads what came before.
	cfg = encryptionConfig(t, aesgcmKey("key1", 1), "identity: {}")
	c = restart(c)
	mustCreate(c, secret("default", "s1", "p1"))
	// Step 1: key2 added second; key1 still writes.
	cfg = encryptionConfig(t, aesgcmKey("key1", 1), aesgcmKey("key2", 2), "identity: {}")
	c = restart(c)
	mustCreate(c, secret("kube-system", "s2", "p2"))
	// Step 2: key2 moved first.
	cfg = encryptionConfig(t, aesgcmKey("key2", 2), aesgcmKey("key1", 1), "identity: {}")
	c = restart(c)
	mustCreate(c, secret("default", "s3", "p3"))
	want := map[string]string{"default/from-before": "p0", "default/s1": "p1", "kube-system/s2": "p2", "default/s3": "p3"}
	prefixes := func() map[string]string {
		out := map[string]string{}
		for k := range want {
			raw := rawValue(c, "/keel/secrets/"+k)
			out[k] = string(raw[:min(len(raw), len("k8s:enc:aesgcm:v1:key1:"))])
		}
		return out
	}
	if p := prefixes(); p["default/s1"] != "k8s:enc:aesgcm:v1:key1:" || p["kube-system/s2"] != "k8s:enc:aesgcm:v1:key1:" || p["default/s3"] != "k8s:enc:aesgcm:v1:key2:" {
		t.Fatalf("stored prefixes before the rewrite: %v", p)
	}

	// Rewrite every Secret: an update that changes nothing still writes
	// a value stored with another key (what keelctl replace does).
	items, _ := mustList[*corev1.Secret](c, &apiv1.ListRequest{Resource: "secrets"})
	for _, s := range items {
		mustUpdate(c, s)
	}
	for k, p := range prefixes() {
		if p != "k8s:enc:aesgcm:v1:key2:" {
			t.Errorf("after the rewrite %s is stored as %q", k, p)
		}
	}

	// Step 3: key1 and identity dropped: everything still reads.
	cfg = encryptionConfig(t, aesgcmKey("key2", 2))
	c = restart(c)
	items, _ = mustList[*corev1.Secret](c, &apiv1.ListRequest{Resource: "secrets"})
	got := map[string]string{}
	for _, s := range items {
		if _, ok := want[s.Metadata.Namespace+"/"+s.Metadata.Name]; ok {
			got[s.Metadata.Namespace+"/"+s.Metadata.Name] = string(s.Data["password"])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("after dropping key1: %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
		if s := mustGet[*corev1.Secret](c, strings.Split(k, "/")[0], strings.Split(k, "/")[1]); string(s.Data["password"]) != v {
			t.Errorf("get %s: %q", k, s.Data["password"])
		}
	}
}

// TestEncryptionOfCustomResources: an encryption config may name a custom
// resource before its definition exists (its group is no built-in one);
// its objects are then stored encrypted, read back in plain text, and
// still read after a restart, when the apiserver lists them before it
// serves the definition again.
func TestEncryptionOfCustomResources(t *testing.T) {
	file := filepath.Join(t.TempDir(), "encryption.yaml")
	if err := os.WriteFile(file, []byte("apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources: [vaults.encryption.example.com]\n  providers:\n  - "+aesgcmKey("key1", 1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := encryptionconfig.Load(file, apiserver.StoredResources())
	if err != nil {
		t.Fatal(err)
	}
	c := startEncrypted(t, &cfg)
	objs, err := manifest.Decode("crd.yaml", []byte(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: vaults.encryption.example.com}
spec:
  group: encryption.example.com
  scope: Namespaced
  names: {plural: vaults, singular: vault, kind: Vault}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, properties: {spec: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(c, objs[0].Message.(*apiextv1.CustomResourceDefinition))
	w := &apiextv1.CustomResource{Metadata: &metav1.ObjectMeta{Name: "w1", Namespace: "default"}, ApiVersion: "encryption.example.com/v1", Kind: "Vault",
		Spec: &metav1.RawExtension{Raw: []byte(`{"token":"vault-plaintext"}`)}}
	b, err := proto.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	req := &apiv1.CreateRequest{Resource: "vaults.encryption.example.com", Namespace: "default",
		Object: &anypb.Any{TypeUrl: "apis.keel.dev/encryption.example.com/v1/Vault/keel.apiextensions.v1.CustomResource", Value: b}}
	testutil.Eventually(t, 30*time.Second, "a vault created", func() error { _, err := c.api.Create(c.ctx, req); return err })

	raw := rawValue(c, "/keel/encryption.example.com/vaults/default/w1")
	if !bytes.HasPrefix(raw, []byte("k8s:enc:aesgcm:v1:key1:")) || bytes.Contains(raw, []byte("vault-plaintext")) {
		t.Fatalf("the stored vault: %q, want it encrypted with key1", raw[:min(len(raw), 40)])
	}
	readBack := func(c *client) error {
		a, err := c.api.Get(c.ctx, &apiv1.GetRequest{Resource: "vaults.encryption.example.com", Namespace: "default", Name: "w1"})
		if err != nil {
			return err
		}
		got := &apiextv1.CustomResource{}
		if err := a.UnmarshalTo(got); err != nil {
			return err
		}
		if !strings.Contains(string(got.GetSpec().GetRaw()), "vault-plaintext") {
			return fmt.Errorf("spec %s", got.GetSpec().GetRaw())
		}
		return nil
	}
	if err := readBack(c); err != nil {
		t.Fatalf("get: %v", err)
	}
	c = restart(c)
	testutil.Eventually(t, 30*time.Second, "the vault read after a restart", func() error { return readBack(c) })
}
