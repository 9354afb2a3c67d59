package value

import (
	"bytes"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func key(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

func mustCipher(t *testing.T, c Cipher, err error) Cipher {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// providers returns one provider per cipher, each under key name "key1"
// and key byte b.
func providers(t *testing.T, b byte) map[string]Provider {
	t.Helper()
	out := map[string]Provider{}
	for _, size := range []int{16, 24, 32} {
		c, err := NewAESGCM(key(b, size))
		out["aesgcm/"+string(rune('0'+size/8))] = NewProvider("aesgcm", "key1", mustCipher(t, c, err))
		c, err = NewAESCBC(key(b, size))
		out["aescbc/"+string(rune('0'+size/8))] = NewProvider("aescbc", "key1", mustCipher(t, c, err))
	}
	c, err := NewSecretbox(key(b, 32))
	out["secretbox"] = NewProvider("secretbox", "key1", mustCipher(t, c, err))
	return out
}

const etcdKey = "/keel/secrets/default/s1"

func TestRoundTripAndPrefix(t *testing.T) {
	plain := []byte("\x0a\x05hello password=hunter2")
	for name, p := range providers(t, 1) {
		t.Run(name, func(t *testing.T) {
			c := Chain{p}
			stored, err := c.TransformToStorage(plain, etcdKey)
			if err != nil {
				t.Fatal(err)
			}
			provider := name[:strings.IndexByte(name+"/", '/')]
			if want := "k8s:enc:" + provider + ":v1:key1:"; !bytes.HasPrefix(stored, []byte(want)) {
				t.Fatalf("stored value %q does not start with %q", stored, want)
			}
			if bytes.Contains(stored, []byte("hunter2")) {
				t.Fatal("stored value contains the plaintext")
			}
			again, _ := c.TransformToStorage(plain, etcdKey)
			if bytes.Equal(stored, again) {
				t.Fatal("two writes of one value are identical: no fresh nonce/IV")
			}
			got, stale, err := c.TransformFromStorage(stored, etcdKey)
			if err != nil || stale || !bytes.Equal(got, plain) {
				t.Fatalf("read back %q stale=%v err=%v", got, stale, err)
			}
		})
	}
}

func TestWrongKeyFails(t *testing.T) {
	plain := []byte("\x0a\x05hello password=hunter2")
	right, wrong := providers(t, 1), providers(t, 2)
	for name := range right {
		t.Run(name, func(t *testing.T) {
			stored, err := Chain{right[name]}.TransformToStorage(plain, etcdKey)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := Chain{wrong[name]}.TransformFromStorage(stored, etcdKey)
			if strings.HasPrefix(name, "aescbc") {
				// No integrity: the padding check catches most wrong keys,
				// and a wrong key never yields the plaintext.
				if err == nil && bytes.Equal(got, plain) {
					t.Fatal("a wrong key decrypted the value")
				}
				return
			}
			if err == nil {
				t.Fatalf("a wrong key decrypted the value: %q", got)
			}
			if !strings.Contains(err.Error(), "k8s:enc:") {
				t.Errorf("error %q does not name the provider", err)
			}
		})
	}
}

func TestAESGCMBindsTheEtcdKey(t *testing.T) {
	c := Chain{providers(t, 1)["aesgcm/4"]}
	stored, err := c.TransformToStorage([]byte("value"), etcdKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.TransformFromStorage(stored, "/keel/secrets/default/other"); err == nil {
		t.Fatal("a value moved to another key decrypted")
	}
	if _, _, err := c.TransformFromStorage(stored, etcdKey); err != nil {
		t.Fatalf("under its own key: %v", err)
	}
}

func TestTamperedValuesFail(t *testing.T) {
	for _, name := range []string{"aesgcm/4", "secretbox"} {
		c := Chain{providers(t, 1)[name]}
		stored, err := c.TransformToStorage([]byte("value"), etcdKey)
		if err != nil {
			t.Fatal(err)
		}
		stored[len(stored)-1] ^= 1
		if _, _, err := c.TransformFromStorage(stored, etcdKey); err == nil {
			t.Errorf("%s: an altered value decrypted", name)
		}
		if _, _, err := c.TransformFromStorage(stored[:len(Prefix("x", "key1"))+3], etcdKey); err == nil {
			t.Errorf("%s: a truncated value decrypted", name)
		}
	}
}

func TestChainReadsWithAnyProviderAndReportsStale(t *testing.T) {
	gcm1 := providers(t, 1)["aesgcm/4"]
	c2, _ := NewAESGCM(key(2, 32))
	gcm2 := NewProvider("aesgcm", "key2", c2)
	box := providers(t, 3)["secretbox"]
	plain := []byte("\x0a\x02hi")

	old := Chain{gcm1}
	storedOld, _ := old.TransformToStorage(plain, etcdKey)
	plainOld := plain // written before encryption: no prefix

	// Rotation step 1: key2 added second. key1 still writes.
	step1 := Chain{gcm1, gcm2, Identity}
	w, _ := step1.TransformToStorage(plain, etcdKey)
	if !bytes.HasPrefix(w, []byte("k8s:enc:aesgcm:v1:key1:")) {
		t.Fatalf("the first provider must write: %q", w[:24])
	}
	// Rotation step 2: key2 first.
	step2 := Chain{gcm2, gcm1, box, Identity}
	w, _ = step2.TransformToStorage(plain, etcdKey)
	if !bytes.HasPrefix(w, []byte("k8s:enc:aesgcm:v1:key2:")) {
		t.Fatalf("the first provider must write: %q", w[:24])
	}
	for _, tc := range []struct {
		name   string
		stored []byte
		stale  bool
	}{
		{"current key", w, false},
		{"old key", storedOld, true},
		{"plaintext from before encryption", plainOld, true},
	} {
		got, stale, err := step2.TransformFromStorage(tc.stored, etcdKey)
		if err != nil || !bytes.Equal(got, plain) || stale != tc.stale {
			t.Errorf("%s: got %q stale=%v err=%v, want stale=%v", tc.name, got, stale, err, tc.stale)
		}
	}

	// Identity first: decrypts old values (stale), writes plaintext.
	decrypt := Chain{Identity, gcm2}
	got, stale, err := decrypt.TransformFromStorage(w, etcdKey)
	if err != nil || !stale || !bytes.Equal(got, plain) {
		t.Errorf("identity first: got %q stale=%v err=%v", got, stale, err)
	}
	if out, _ := decrypt.TransformToStorage(plain, etcdKey); !bytes.Equal(out, plain) {
		t.Errorf("identity first writes %q", out)
	}

	// Step 3: key1 dropped. Values still under key1 no longer read, and the
	// error says which key wrote them without showing the value.
	step3 := Chain{gcm2}
	if _, _, err := step3.TransformFromStorage(storedOld, etcdKey); err == nil || !strings.Contains(err.Error(), `aesgcm key "key1"`) {
		t.Errorf("reading a value of a dropped key: %v", err)
	}
	if _, _, err := step3.TransformFromStorage(plainOld, etcdKey); err == nil || !strings.Contains(err.Error(), "identity is not configured") {
		t.Errorf("reading plaintext without identity: %v", err)
	}
}

func TestIdentityRefusesEncryptedValues(t *testing.T) {
	stored, _ := Chain{providers(t, 1)["secretbox"]}.TransformToStorage([]byte("x"), etcdKey)
	if _, _, err := (Chain{Identity}).TransformFromStorage(stored, etcdKey); err == nil {
		t.Fatal("identity read an encrypted value")
	}
}

func TestSecretboxKeySize(t *testing.T) {
	if _, err := NewSecretbox(key(1, 16)); err == nil {
		t.Fatal("secretbox took a 16-byte key")
	}
}

func TestMetrics(t *testing.T) {
	p := providers(t, 1)["secretbox"]
	c := Chain{p, Identity}
	ok := transformations.WithLabelValues("from_storage", "k8s:enc:secretbox:v1:", "OK")
	failed := transformations.WithLabelValues("from_storage", "k8s:enc:secretbox:v1:", "Unknown")
	identity := transformations.WithLabelValues("from_storage", "identity", "OK")
	before := [3]float64{testutil.ToFloat64(ok), testutil.ToFloat64(failed), testutil.ToFloat64(identity)}
	stored, _ := c.TransformToStorage([]byte("x"), etcdKey)
	c.TransformFromStorage(stored, etcdKey)
	stored[len(stored)-1] ^= 1
	c.TransformFromStorage(stored, etcdKey)
	c.TransformFromStorage([]byte("plain"), etcdKey)
	after := [3]float64{testutil.ToFloat64(ok), testutil.ToFloat64(failed), testutil.ToFloat64(identity)}
	if after != [3]float64{before[0] + 1, before[1] + 1, before[2] + 1} {
		t.Fatalf("counters went from %v to %v", before, after)
	}
}
