package encryptionconfig

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
)

var served = []schema.GroupResource{
	{Resource: "secrets"}, {Resource: "configmaps"}, {Resource: "pods"},
	{Group: "apps", Resource: "deployments"}, {Group: "apps", Resource: "replicasets"},
	{Group: "batch", Resource: "jobs"},
}

func b64(n int) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, n)) }

const good = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets, configmaps]
  providers:
  - aesgcm:
      keys:
      - {name: key1, secret: ` + "KEY32" + `}
      - {name: key0, secret: ` + "KEY16" + `}
  - secretbox:
      keys:
      - {name: box, secret: ` + "KEY32" + `}
  - aescbc:
      keys:
      - {name: cbc, secret: ` + "KEY24" + `}
  - identity: {}
- resources: ["*.apps"]
  providers:
  - secretbox:
      keys:
      - {name: apps, secret: ` + "KEY32" + `}
- resources: ["*.*"]
  providers:
  - identity: {}
`

func fill(s string) string {
	return strings.NewReplacer("KEY32", b64(32), "KEY24", b64(24), "KEY16", b64(16), "KEY8", b64(8)).Replace(s)
}

func TestLoadGood(t *testing.T) {
	file := filepath.Join(t.TempDir(), "enc.yaml")
	if err := os.WriteFile(file, []byte(fill(good)), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file, served)
	if err != nil {
		t.Fatal(err)
	}
	sec := c.For(schema.GroupResource{Resource: "secrets"})
	stored, err := sec.TransformToStorage([]byte("x"), "/keel/secrets/a/b")
	if err != nil || !strings.HasPrefix(string(stored), "k8s:enc:aesgcm:v1:key1:") {
		t.Fatalf("secrets written as %q (%v)", stored, err)
	}
	deploy, _ := c.For(schema.GroupResource{Group: "apps", Resource: "deployments"}).TransformToStorage([]byte("x"), "k")
	if !strings.HasPrefix(string(deploy), "k8s:enc:secretbox:v1:apps:") {
		t.Fatalf("deployments written as %q", deploy)
	}
	jobs, _ := c.For(schema.GroupResource{Group: "batch", Resource: "jobs"}).TransformToStorage([]byte("x"), "k")
	if string(jobs) != "x" {
		t.Fatalf("jobs (identity) written as %q", jobs)
	}
	// Without *.*, an unlisted resource has no transformer.
	c2, err := Parse([]byte(fill(strings.Split(good, "- resources: [\"*.apps\"]")[0])), served)
	if err != nil {
		t.Fatal(err)
	}
	if tr := c2.For(schema.GroupResource{Resource: "pods"}); tr != nil {
		t.Fatalf("pods got a transformer: %v", tr)
	}
	// Every provider of the list reads.
	for _, p := range []string{"secretbox", "aescbc"} {
		one := fill(`apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
- resources: [secrets]
  providers:
  - ` + p + `:
      keys:
      - {name: ` + map[string]string{"secretbox": "box", "aescbc": "cbc"}[p] + `, secret: ` + map[string]string{"secretbox": "KEY32", "aescbc": "KEY24"}[p] + `}
`)
		c3, err := Parse([]byte(one), served)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := c3.For(schema.GroupResource{Resource: "secrets"}).TransformToStorage([]byte("plain"), "k")
		got, stale, err := sec.TransformFromStorage(v, "k")
		if err != nil || !stale || string(got) != "plain" {
			t.Errorf("%s value read by the full config: %q stale=%v %v", p, got, stale, err)
		}
	}
}

func TestLoadBad(t *testing.T) {
	head := "apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n"
	one := func(providers string) string {
		return head + "resources:\n- resources: [secrets]\n  providers:\n" + providers
	}
	for _, tc := range []struct{ name, doc, want string }{
		{"empty file", "", "the file is empty"},
		{"not YAML", "resources: [", "yaml"},
		{"duplicate key", head + "kind: X\n", `"kind" already set`},
		{"wrong kind", "apiVersion: apiserver.config.k8s.io/v1\nkind: Encryption\nresources: []\n", "kind: Invalid value"},
		{"wrong apiVersion", "apiVersion: v1\nkind: EncryptionConfiguration\n", "apiVersion: Invalid value"},
		{"no resources", head, "resources: Required value"},
		{"unknown top field", head + "resource: []\n", "resource: Invalid value: \"resource\": unknown field"},
		{"unknown key field", one("  - aesgcm:\n      keys:\n      - {name: k, secrett: KEY32}\n"), "resources[0].providers[0].aesgcm.keys[0].secrett: Invalid value: \"secrett\": unknown field"},
		{"kms", one("  - kms: {name: x}\n"), "resources[0].providers[0].kms: Invalid value: \"kms\": unknown field: the kms provider is not supported"},
		{"number where a list goes", one("  - aesgcm:\n      keys: [{name: k, secret: KEY32}]\n    identity: 5\n"), "resources[0].providers[0].identity: Invalid value: \"number\": must be an object"},
		{"wrong type", one("  - aesgcm:\n      keys: {name: k}\n"), "resources[0].providers[0].aesgcm.keys: Invalid value: \"object\": must be a list"},
		{"no resource names", head + "resources:\n- providers:\n  - identity: {}\n", "resources[0].resources: Required value"},
		{"no providers", head + "resources:\n- resources: [secrets]\n", "resources[0].providers: Required value"},
		{"empty provider", one("  - {}\n"), "resources[0].providers[0]: Required value: one of aesgcm"},
		{"two providers in one element", one("  - identity: {}\n    aesgcm: {keys: [{name: k, secret: KEY32}]}\n"), "resources[0].providers[0]: Invalid value: \"\": more than one provider"},
		{"no keys", one("  - aescbc: {keys: []}\n"), "resources[0].providers[0].aescbc.keys: Required value"},
		{"key without name", one("  - aesgcm: {keys: [{secret: KEY32}]}\n"), "resources[0].providers[0].aesgcm.keys[0].name: Required value"},
		{"key name with colon", one("  - aesgcm: {keys: [{name: 'a:b', secret: KEY32}]}\n"), "keys[0].name: Invalid value: \"a:b\""},
		{"duplicate key names", one("  - aesgcm: {keys: [{name: k, secret: KEY32}, {name: k, secret: KEY16}]}\n"), "resources[0].providers[0].aesgcm.keys[1].name: Duplicate value"},
		{"duplicate key names across elements", one("  - aesgcm: {keys: [{name: k, secret: KEY32}]}\n  - aesgcm: {keys: [{name: k, secret: KEY16}]}\n"), "resources[0].providers[1].aesgcm.keys[0].name: Duplicate value"},
		{"key without secret", one("  - secretbox: {keys: [{name: k}]}\n"), "resources[0].providers[0].secretbox.keys[0].secret: Required value"},
		{"secret not base64", one("  - aesgcm: {keys: [{name: k, secret: '!!'}]}\n"), "keys[0].secret: Invalid value: \"REDACTED\": must be base64"},
		{"aesgcm key size", one("  - aesgcm: {keys: [{name: k, secret: KEY8}]}\n"), "resources[0].providers[0].aesgcm.keys[0].secret: Invalid value: \"REDACTED\": is 8 bytes; aesgcm keys are 16, 24 or 32 bytes"},
		{"aescbc key size", one("  - aescbc: {keys: [{name: k, secret: KEY8}]}\n"), "aescbc keys are 16, 24 or 32 bytes"},
		{"secretbox key size", one("  - secretbox: {keys: [{name: k, secret: KEY16}]}\n"), "resources[0].providers[0].secretbox.keys[0].secret: Invalid value: \"REDACTED\": is 16 bytes; secretbox keys are 32 bytes"},
		{"uppercase resource", head + "resources:\n- resources: [Secrets]\n  providers: [{identity: {}}]\n", "resources[0].resources[0]: Invalid value: \"Secrets\": resource names are lowercase"},
		{"bare star", head + "resources:\n- resources: ['*']\n  providers: [{identity: {}}]\n", `use "*.*"`},
		{"group wildcard", head + "resources:\n- resources: ['secrets.*']\n  providers: [{identity: {}}]\n", "a wildcard group is not supported"},
		{"bad resource", head + "resources:\n- resources: ['se_crets']\n  providers: [{identity: {}}]\n", "must be a resource name"},
		{"bad group", head + "resources:\n- resources: ['deployments.Apps_']\n  providers: [{identity: {}}]\n", "resource names are lowercase"},
		{"unknown resource", head + "resources:\n- resources: [secret]\n  providers: [{identity: {}}]\n", "resources[0].resources[0]: Invalid value: \"secret\": this apiserver stores no such resource"},
		{"unknown resource of a built-in group", head + "resources:\n- resources: [deploy.apps]\n  providers: [{identity: {}}]\n", "resources[0].resources[0]: Invalid value: \"deploy.apps\": this apiserver stores no such resource"},
		{"duplicate resource", head + "resources:\n- resources: [secrets]\n  providers: [{identity: {}}]\n- resources: [secrets]\n  providers: [{identity: {}}]\n", "resources[1].resources[0]: Duplicate value: \"secrets (also at resources[0].resources[0])\""},
		{"masked by wildcard", head + "resources:\n- resources: ['*.apps']\n  providers: [{identity: {}}]\n- resources: [deployments.apps]\n  providers: [{identity: {}}]\n", "resources[1].resources[0]: Invalid value: \"deployments.apps\": masked by \"*.apps\" at resources[0].resources[0]"},
		{"masked by star star", head + "resources:\n- resources: ['*.*', '*.']\n  providers: [{identity: {}}]\n", "resources[0].resources[1]: Invalid value: \"*.\": masked by \"*.*\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "enc.yaml")
			if err := os.WriteFile(file, []byte(fill(tc.doc)), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file, served)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "encryption provider config "+file+": ") || !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q\nwant the file and %q", msg, tc.want)
			}
			if strings.Contains(msg, b64(32)) || strings.Contains(msg, b64(16)) || strings.Contains(msg, b64(8)) {
				t.Fatalf("error shows a secret: %q", msg)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), served)
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("got %v", err)
	}
}

// The example in docs/encryption.md is a valid file.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../../docs/encryption.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	example, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("no yaml example in docs/encryption.md")
	}
	c, err := Parse([]byte(example), served)
	if err != nil {
		t.Fatal(err)
	}
	if c.For(schema.GroupResource{Resource: "secrets"}) == nil {
		t.Fatal("the example does not encrypt secrets")
	}
}
