package config

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"keel.dev/keel/pkg/api"
)

// ErrNotInCluster is InCluster's answer outside a pod:
// KUBERNETES_SERVICE_HOST or KUBERNETES_SERVICE_PORT is not set.
var ErrNotInCluster = errors.New("unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined")

// InCluster returns the connection settings of a process in a pod, as
// client-go's InClusterConfig: the apiserver at
// $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, verified with the
// ca.crt of the service account directory
// (api.ServiceAccountTokenMountPath), the token file there (re-read as the
// kubelet refreshes it) and the namespace file's namespace.
func InCluster() (*Resolved, error) {
	return inCluster(api.ServiceAccountTokenMountPath)
}

// inCluster is InCluster with the service account directory dir.
func inCluster(dir string) (*Resolved, error) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, ErrNotInCluster
	}
	tokenFile := filepath.Join(dir, "token")
	if _, err := os.Stat(tokenFile); err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	caFile := filepath.Join(dir, "ca.crt")
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("in-cluster configuration: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("in-cluster configuration: %s: no PEM certificate", caFile)
	}
	ns := DefaultNamespace
	if b, err := os.ReadFile(filepath.Join(dir, "namespace")); err == nil && strings.TrimSpace(string(b)) != "" {
		ns = strings.TrimSpace(string(b))
	}
	return &Resolved{
		Namespace:       ns,
		Servers:         []string{net.JoinHostPort(host, port)},
		TLS:             &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		BearerTokenFile: tokenFile,
	}, nil
}
