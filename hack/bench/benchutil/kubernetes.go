package benchutil

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"keel.dev/keel/pkg/pki"
)

// KubeAPIServer is Kubernetes' control plane core as the reference
// benchmarks run it: Debian's etcd (a separate process, fsync on) and
// kube-apiserver (Node,RBAC, TLS only, ServiceAccount tokens signed with a
// key made on the fly), both processes on this machine.
type KubeAPIServer struct {
	Etcd, APIServer *Process
	// Addr is kube-apiserver's secure address (host:port).
	Addr string
	// PKIDir holds the cluster's key pairs (pki.Init): the CA
	// kube-apiserver trusts for client certificates, the admin's, the
	// components'.
	PKIDir string
}

// StartKubeAPIServer starts etcd (etcdBin) and kube-apiserver (apiserverBin)
// in dir with a fresh PKI, and returns once etcd answers its health check;
// the caller waits for kube-apiserver's /readyz with a client of its own.
func StartKubeAPIServer(ctx context.Context, dir, etcdBin, apiserverBin string) (_ *KubeAPIServer, err error) {
	k := &KubeAPIServer{PKIDir: filepath.Join(dir, "pki")}
	defer func() {
		if err != nil {
			k.Stop()
		}
	}()
	if _, err := pki.Init(pki.InitOptions{Dir: k.PKIDir, Hostname: "localhost"}); err != nil {
		return nil, err
	}
	etcdURL, peer := fmt.Sprintf("http://127.0.0.1:%d", FreePort()), fmt.Sprintf("http://127.0.0.1:%d", FreePort())
	if k.Etcd, err = Start(dir, "etcd", etcdBin, "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer,
		"--quota-backend-bytes", fmt.Sprint(8<<30)); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := WaitHTTP(wctx, etcdURL+"/health", k.Etcd); err != nil {
		return nil, err
	}
	k.Addr = fmt.Sprintf("127.0.0.1:%d", FreePort())
	saKey, saPub := filepath.Join(k.PKIDir, pki.ServiceAccountKeyFile), filepath.Join(k.PKIDir, pki.ServiceAccountPublicKeyFile)
	k.APIServer, err = Start(dir, "kube-apiserver", apiserverBin, "--etcd-servers", etcdURL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strings.TrimPrefix(k.Addr, "127.0.0.1:"),
		"--tls-cert-file", pki.CertPath(k.PKIDir, pki.APIServerName), "--tls-private-key-file", pki.KeyPath(k.PKIDir, pki.APIServerName),
		"--client-ca-file", pki.CertPath(k.PKIDir, pki.CAName), "--authorization-mode", "Node,RBAC",
		"--service-account-key-file", saPub, "--service-account-signing-key-file", saKey,
		"--service-account-issuer", "https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range", "10.96.0.0/16")
	if err != nil {
		return nil, err
	}
	return k, nil
}

// Stop stops kube-apiserver, then etcd.
func (k *KubeAPIServer) Stop() {
	k.APIServer.Stop()
	k.Etcd.Stop()
}

// Parallel runs job(0) … job(n-1) on conc goroutines and returns each
// job's latency (by index) and the wall time of all; the first error
// stops the run.
func Parallel(n, conc int, job func(i int) error) (Durations, time.Duration, error) {
	lat := make(Durations, n)
	var next atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || firstErr.Load() != nil {
					return
				}
				t := time.Now()
				if err := job(i); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, 0, err
	}
	return lat, time.Since(start), nil
}
