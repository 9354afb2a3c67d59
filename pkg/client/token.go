package client

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"keel.dev/keel/pkg/auth"
)

// tokenCredentials sends a bearer token with every call (gRPC per-RPC
// credentials, over TLS only): a fixed token, the content of a file
// re-read at most every tokenFileRecheck, so that a token the kubelet
// refreshes in a projected volume is picked up without reconnecting, or
// what a source returns for each call.
type tokenCredentials struct {
	token  string
	file   string
	source func(context.Context) (string, error)

	mu     sync.Mutex
	cached string
	read   time.Time
}

// tokenFileRecheck is how long a token read from a file is used before the
// file is read again.
const tokenFileRecheck = time.Minute

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *tokenCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	tok, err := c.current(ctx)
	if err != nil {
		return nil, err
	}
	return map[string]string{auth.AuthorizationMetadata: "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials: a
// token is never sent in plain text.
func (c *tokenCredentials) RequireTransportSecurity() bool { return true }

func (c *tokenCredentials) current(ctx context.Context) (string, error) {
	if c.source != nil {
		return c.source(ctx)
	}
	if c.file == "" {
		return c.token, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached != "" && time.Since(c.read) < tokenFileRecheck {
		return c.cached, nil
	}
	b, err := os.ReadFile(c.file)
	if err != nil {
		if c.cached != "" { // keep using the last token while the file is being replaced
			return c.cached, nil
		}
		return "", fmt.Errorf("reading the bearer token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("the bearer token file %s is empty", c.file)
	}
	c.cached, c.read = tok, time.Now()
	return tok, nil
}
