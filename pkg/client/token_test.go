package client

import (
	"context"
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestTokenFileIsReread: a token read from a file is sent as "Bearer
// TOKEN", read again once it is older than tokenFileRecheck (a refreshed
// projected token is picked up), and the last good token is kept while the
// file is briefly missing; a fixed token is sent as given; neither is ever
// sent in plain text.
func TestTokenFileIsReread(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte("first\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &tokenCredentials{file: path}
	want := func(tok string) {
		t.Helper()
		md, err := c.GetRequestMetadata(context.Background())
		if err != nil || md["authorization"] != "Bearer "+tok {
			t.Fatalf("metadata %v, %v; want Bearer %s", md, err, tok)
		}
	}
	want("first")
	if err := os.WriteFile(path, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	want("first") // read less than tokenFileRecheck ago
	c.read = time.Now().Add(-tokenFileRecheck)
	want("second")
	os.Remove(path)
	c.read = time.Now().Add(-tokenFileRecheck)
	want("second")
	if _, err := (&tokenCredentials{file: path}).GetRequestMetadata(context.Background()); err == nil {
		t.Error("a missing token file with no token read before: no error")
	}
	fixed := &tokenCredentials{token: "abc"}
	if md, _ := fixed.GetRequestMetadata(context.Background()); md["authorization"] != "Bearer abc" || !fixed.RequireTransportSecurity() {
		t.Errorf("fixed token: %v, transport security required: %v", md, fixed.RequireTransportSecurity())
	}
	if _, err := New(Options{Servers: []string{"127.0.0.1:1"}, Insecure: true, BearerToken: "abc"}); err == nil {
		t.Error("a bearer token over plain text was accepted")
	}
}

// TestTokenSource: a token source is asked for every call's token (so a
// refreshed token is sent at once) and its error fails the call; it is
// never sent in plain text, nor set with another token.
func TestTokenSource(t *testing.T) {
	tok := "first"
	c := &tokenCredentials{source: func(context.Context) (string, error) {
		if tok == "" {
			return "", errors.New("no token")
		}
		return tok, nil
	}}
	for _, want := range []string{"first", "second"} {
		tok = want
		if md, err := c.GetRequestMetadata(context.Background()); err != nil || md["authorization"] != "Bearer "+want {
			t.Fatalf("metadata %v, %v; want Bearer %s", md, err, want)
		}
	}
	tok = ""
	if _, err := c.GetRequestMetadata(context.Background()); err == nil {
		t.Error("the source's error did not fail the call")
	}
	source := func(context.Context) (string, error) { return "abc", nil }
	if _, err := New(Options{Servers: []string{"127.0.0.1:1"}, Insecure: true, BearerTokenSource: source}); err == nil {
		t.Error("a token source over plain text was accepted")
	}
	if _, err := New(Options{Servers: []string{"127.0.0.1:1"}, TLS: &tls.Config{}, BearerToken: "abc", BearerTokenSource: source}); err == nil {
		t.Error("a token and a token source together were accepted")
	}
}
