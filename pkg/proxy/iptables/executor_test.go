package iptables

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWithStaleChainsDeleted(t *testing.T) {
	web := svcPort("web", "10.96.0.10", Endpoint{IP: "10.244.1.5", Port: 8080})
	payload := Render(testCfg, []ServicePort{web})
	existing := map[string][]string{
		"nat": {"PREROUTING", "OUTPUT", chainServices, web.svcChain(), web.sepChain(web.Endpoints[0]),
			"KEEL-SVC-OLD", "KEEL-SEP-OLD", "KEEL-EXT-OLD", "KEEL-SEP-OLD", "KEEL-SOMETHING", "CNI-HOSTPORT-DNAT"},
		"filter": {"INPUT", "KEEL-SEP-INFILTER"},
		"mangle": {"KEEL-SVC-ELSEWHERE"},
	}
	got := string(withStaleChainsDeleted(payload, existing))

	filter, nat, _ := strings.Cut(string(payload), "*nat\n")
	want := strings.Replace(filter, "*filter\n", "*filter\n:KEEL-SEP-INFILTER - [0:0]\n", 1)
	want = strings.Replace(want, "COMMIT\n", "-X KEEL-SEP-INFILTER\nCOMMIT\n", 1)
	want += "*nat\n:KEEL-EXT-OLD - [0:0]\n:KEEL-SEP-OLD - [0:0]\n:KEEL-SVC-OLD - [0:0]\n" +
		strings.TrimSuffix(nat, "COMMIT\n") + "-X KEEL-EXT-OLD\n-X KEEL-SEP-OLD\n-X KEEL-SVC-OLD\nCOMMIT\n"
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("stale chains (-want +got):\n%s", diff)
	}

	// Nothing stale: the payload itself.
	existing = map[string][]string{"nat": {web.svcChain(), "KEEL-SOMETHING"}}
	if got := withStaleChainsDeleted(payload, existing); !bytes.Equal(got, payload) {
		t.Fatalf("payload changed with nothing stale:\n%s", got)
	}
}

func TestChanges(t *testing.T) {
	web := svcPort("web", "10.96.0.10", Endpoint{IP: "10.250.0.2", Port: 8080})
	db := svcPort("db", "10.96.0.20", Endpoint{IP: "10.250.0.3", Port: 5432})
	moved := svcPort("db", "10.96.0.20", Endpoint{IP: "10.250.0.4", Port: 5432})
	both := Render(testCfg, []ServicePort{web, db})
	if got := changes(parseRuleSet(both), parseRuleSet(both)); got != nil {
		t.Errorf("changes with nothing changed = %q, want nil", got)
	}

	// db's endpoint moves: its service chain is rewritten, the new
	// endpoint's chain created, the old one deleted; web and the filter
	// table are not sent.
	got := string(changes(parseRuleSet(both), parseRuleSet(Render(testCfg, []ServicePort{web, moved}))))
	want := "*nat\n:" + db.svcChain() + " - [0:0]\n:" + moved.sepChain(moved.Endpoints[0]) + " - [0:0]\n:" + db.sepChain(db.Endpoints[0]) + " - [0:0]\n"
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "-X "+db.sepChain(db.Endpoints[0])+"\nCOMMIT\n") {
		t.Errorf("changes for a moved endpoint:\n%s\nwant it to start with\n%s", got, want)
	}
	for _, absent := range []string{"*filter", web.svcChain(), "KEEL-SERVICES"} {
		if strings.Contains(got, absent) {
			t.Errorf("changes for a moved endpoint names %s, which did not change:\n%s", absent, got)
		}
	}
	if n := strings.Count(got, "--to-destination"); n != 1 {
		t.Errorf("changes rewrites %d DNAT rules, want 1:\n%s", n, got)
	}

	// db goes: the top-level chain that led to it is rewritten and its
	// chains deleted after that.
	got = string(changes(parseRuleSet(both), parseRuleSet(Render(testCfg, []ServicePort{web}))))
	for _, want := range []string{":KEEL-SERVICES - [0:0]", "-X " + db.svcChain(), "-X " + db.sepChain(db.Endpoints[0])} {
		if !strings.Contains(got, want) {
			t.Errorf("changes for a deleted service lacks %q:\n%s", want, got)
		}
	}
	if strings.Index(got, "-X ") < strings.LastIndex(got, "-A KEEL-SERVICES") {
		t.Errorf("a chain deleted before the rules jumping to it were rewritten:\n%s", got)
	}

	// A service without endpoints moves from nat to a filter REJECT.
	got = string(changes(parseRuleSet(both), parseRuleSet(Render(testCfg, []ServicePort{web, svcPort("db", "10.96.0.20")}))))
	if !strings.Contains(got, "*filter\n") || !strings.Contains(got, "-j REJECT") || !strings.Contains(got, "-X "+db.svcChain()) {
		t.Errorf("changes for a service losing its endpoints:\n%s", got)
	}
}

func TestFailedLine(t *testing.T) {
	payload := []byte("*nat\n:KEEL-X - [0:0]\n-A KEEL-X -j NOPE\nCOMMIT\n")
	if got := failedLine(payload, []byte("iptables-restore: line 3 failed\n")); got != " (line 3: -A KEEL-X -j NOPE)" {
		t.Errorf("failedLine = %q", got)
	}
	for _, out := range []string{"line 9 failed", "line 0 failed", "something else"} {
		if got := failedLine(payload, []byte(out)); got != "" {
			t.Errorf("failedLine(%q) = %q, want none", out, got)
		}
	}
}

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		ok   bool
	}{
		{`-A INPUT -j ACCEPT`, []string{"-A", "INPUT", "-j", "ACCEPT"}, true},
		{`-A INPUT  -m comment --comment "keel service portals" -j KEEL-SERVICES`,
			[]string{"-A", "INPUT", "-m", "comment", "--comment", "keel service portals", "-j", "KEEL-SERVICES"}, true},
		{`--comment "say \"hi\"" x`, []string{"--comment", `say "hi"`, "x"}, true},
		{`--comment ""`, []string{"--comment", ""}, true},
		{`--comment "open`, []string{"--comment", "open"}, false},
	} {
		got, ok := splitWords(tc.in)
		if !slices.Equal(got, tc.want) || ok != tc.ok {
			t.Errorf("splitWords(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestKeelJump(t *testing.T) {
	for _, tc := range []struct {
		rule, chain string
		want        []string
	}{
		{`-A PREROUTING -m comment --comment "keel service portals" -j KEEL-SERVICES`, "PREROUTING",
			[]string{"-m", "comment", "--comment", "keel service portals", "-j", "KEEL-SERVICES"}},
		{`-A FORWARD -g KEEL-FORWARD`, "FORWARD", []string{"-g", "KEEL-FORWARD"}},
		{`-A FORWARD -j DOCKER-USER`, "FORWARD", nil},
		{`-A FORWARD -m comment --comment "-j KEEL-X" -j ACCEPT`, "FORWARD", nil},
		{`-P FORWARD ACCEPT`, "FORWARD", nil},
		{`-A OUTPUT -j KEEL-SERVICES`, "INPUT", nil},
	} {
		got, ok := keelJump(tc.rule, tc.chain)
		if !slices.Equal(got, tc.want) || ok != (tc.want != nil) {
			t.Errorf("keelJump(%q) = %q, %v; want %q", tc.rule, got, ok, tc.want)
		}
	}
}

func TestJumpsTargetDeclaredChains(t *testing.T) {
	payload := string(Render(testCfg, nil))
	filter, nat, _ := strings.Cut(payload, "*nat\n")
	for _, j := range jumps {
		section := map[string]string{"filter": filter, "nat": nat}[j.table]
		if !strings.Contains(section, ":"+j.target()+" ") {
			t.Errorf("jump %s/%s -> %s: Render does not declare the target", j.table, j.chain, j.target())
		}
		if !slices.Contains(builtinChains[j.table], j.chain) {
			t.Errorf("jump from %s/%s: not a built-in chain Cleanup sweeps", j.table, j.chain)
		}
	}
}

func TestFake(t *testing.T) {
	var f Fake
	p := []byte("payload")
	if err := f.Restore(p, true); err != nil {
		t.Fatal(err)
	}
	p[0] = 'X'
	boom := errors.New("boom")
	f.FailWith(boom)
	if err := f.Restore([]byte("lost"), false); !errors.Is(err, boom) {
		t.Fatalf("Restore after FailWith = %v", err)
	}
	if err := f.EnsureJumps(); !errors.Is(err, boom) {
		t.Fatalf("EnsureJumps after FailWith = %v", err)
	}
	f.FailWith(nil)
	if err := errors.Join(f.EnsureJumps(), f.Cleanup(), f.Cleanup()); err != nil {
		t.Fatal(err)
	}
	if got := f.Restores(); len(got) != 1 || string(got[0]) != "payload" || string(f.Last()) != "payload" || !slices.Equal(f.Full(), []bool{true}) {
		t.Fatalf("Restores = %q, Last = %q, Full = %v", got, f.Last(), f.Full())
	}
	if j, c := f.Calls(); j != 1 || c != 2 {
		t.Fatalf("Calls = %d, %d", j, c)
	}
}
