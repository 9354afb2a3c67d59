// Package daemon holds what every Keel daemon shares: its root command
// (Command, Main), an optional YAML config file whose keys are the daemon's
// flag names, zap logging, and the HTTP endpoints /metrics, /healthz and
// /readyz.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"sigs.k8s.io/yaml"
)

// ApplyConfigFile reads a YAML file of flag-name: value pairs and sets every
// flag the command line did not set, so flags always win over the file.
// Lists set the flag once per item. Every unknown key and bad value is
// reported, each naming the file and the key; the daemon then refuses to
// start, so a partly applied file never runs.
func ApplyConfigFile(fs *pflag.FlagSet, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	var raw map[string]any
	if err := yaml.UnmarshalStrict(data, &raw); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	type set struct{ flag, value string }
	var (
		sets     []set
		problems []string
	)
	for _, k := range keys {
		f := fs.Lookup(k)
		if f == nil || k == "config" {
			problems = append(problems, fmt.Sprintf("%s: unknown setting %q", path, k))
			continue
		}
		if f.Changed {
			continue
		}
		var vals []string
		switch v := raw[k].(type) {
		case []any:
			for _, item := range v {
				vals = append(vals, fmt.Sprint(item))
			}
		case nil:
			continue
		case float64:
			vals = []string{strings.TrimSuffix(fmt.Sprintf("%f", v), ".000000")}
		default:
			vals = []string{fmt.Sprint(v)}
		}
		for _, v := range vals {
			sets = append(sets, set{k, v})
		}
	}
	for _, s := range sets {
		if err := fs.Set(s.flag, s.value); err != nil {
			problems = append(problems, fmt.Sprintf("%s: %s: %v", path, s.flag, err))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}

// NewLogger makes a JSON zap logger at level (debug, info, warn, error).
func NewLogger(level string) (*zap.Logger, error) {
	var lvl zapcore.Level
	if err := lvl.Set(level); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	cfg := zap.NewProductionConfig()
	cfg.Level = zap.NewAtomicLevelAt(lvl)
	cfg.EncoderConfig.TimeKey = "ts"
	cfg.EncoderConfig.EncodeTime = zapcore.ISO8601TimeEncoder
	cfg.Sampling = nil
	return cfg.Build()
}

// Check is a named health check.
type Check struct {
	Name string
	Func func(ctx context.Context) error
}

// ServeHTTP serves /metrics (the default Prometheus registry), the health
// URLs of HealthHandler and Go's /debug/pprof/ profiles on addr until ctx
// ends. It returns once the listener is bound, with the bound address. The
// address should be loopback or otherwise protected: nothing here is
// authenticated.
func ServeHTTP(ctx context.Context, addr string, live, ready []Check, log *zap.Logger) (string, error) {
	mux := HealthHandler(live, ready)
	HandleMetrics(mux)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("health/metrics listener: %w", err)
	}
	Serve(ctx, l, mux, log)
	return l.Addr().String(), nil
}

// HandleMetrics adds to mux the process's Prometheus metrics (/metrics,
// the default registry) and Go's /debug/pprof/ profiles; who may reach
// them is the caller's to decide.
func HandleMetrics(mux *http.ServeMux) {
	mux.Handle("/metrics", promhttp.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// HealthHandler serves /healthz and /livez (200 "ok" when every live check
// passes), /readyz (the same for the ready checks) and, with ?verbose,
// each check's outcome; a failed check answers 503 with every outcome.
// Other paths are not found. Callers may add handlers to the mux.
func HealthHandler(live, ready []Check) *http.ServeMux {
	mux := http.NewServeMux()
	health := handler(live)
	mux.Handle("/healthz", health)
	mux.Handle("/livez", health)
	mux.Handle("/readyz", handler(ready))
	return mux
}

// Serve serves plain HTTP with h on l until ctx ends (then it shuts down,
// waiting at most 2s for requests in flight); it returns at once. Closing
// l stops it too.
func Serve(ctx context.Context, l net.Listener, h http.Handler, log *zap.Logger) {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			log.Error("HTTP server", zap.String("address", l.Addr().String()), zap.Error(err))
		}
	}()
}

func handler(checks []Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var failed []string
		var report strings.Builder
		for _, c := range checks {
			if err := c.Func(ctx); err != nil {
				failed = append(failed, c.Name)
				fmt.Fprintf(&report, "[-]%s failed: %v\n", c.Name, err)
			} else {
				fmt.Fprintf(&report, "[+]%s ok\n", c.Name)
			}
		}
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, report.String())
			return
		}
		if r.URL.Query().Has("verbose") {
			fmt.Fprint(w, report.String())
		}
		fmt.Fprintln(w, "ok")
	})
}
