package iptables

import (
	"bytes"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	goipt "github.com/coreos/go-iptables/iptables"
)

// Executor applies rules to the kernel.
//
// Keel owns every chain whose name starts with KEEL- in the filter and nat
// tables; nothing else may create or edit them. One Executor per node: two
// processes programming the same tables would undo each other.
type Executor interface {
	// Restore makes Keel's chains what payload, a whole rule set from
	// Render, says, atomically per table with iptables-restore --noflush
	// (a table whose section fails is left as it was; the error quotes the
	// line iptables-restore rejected). Built-in and foreign chains are left
	// alone.
	//
	// With full set, or when no Restore has succeeded since the last
	// failure, it sends the whole payload and deletes, in the same
	// transaction, every per-service chain (KEEL-SVC-, KEEL-SVL-, KEEL-EXT-,
	// KEEL-SEP-) the kernel has and the payload does not declare.
	// Otherwise it sends only the chains that differ from the payload last
	// restored, and deletes those it no longer declares: a sync costs what
	// changed, not what exists. Periodic full restores repair chains
	// edited behind its back.
	Restore(payload []byte, full bool) error
	// EnsureJumps installs, once each, the jumps from the built-in chains
	// to Keel's top-level chains (creating those chains, empty, if
	// missing). A missing jump is inserted at the top of its built-in
	// chain; jumps already there are left where they are.
	EnsureJumps() error
	// Cleanup removes every rule of a built-in filter or nat chain that
	// jumps to a KEEL- chain, then every KEEL- chain, leaving other rules
	// alone. It is idempotent.
	Cleanup() error
}

// jump is one rule in a built-in chain leading to a Keel chain.
type jump struct {
	table, chain string
	rule         []string // ends with -j target
}

func (j jump) target() string { return j.rule[len(j.rule)-1] }

// jumps are the rules EnsureJumps installs. Within a built-in chain, the
// first listed ends up first when all are missing.
var jumps = []jump{
	{"nat", "PREROUTING", []string{"-m", "comment", "--comment", "keel service portals", "-j", chainServices}},
	{"nat", "OUTPUT", []string{"-m", "comment", "--comment", "keel service portals", "-j", chainServices}},
	{"nat", "POSTROUTING", []string{"-m", "comment", "--comment", "keel postrouting rules", "-j", chainPostrouting}},
	{"filter", "INPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "keel externally-visible service portals", "-j", chainExternalServices}},
	{"filter", "FORWARD", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "keel service portals", "-j", chainServices}},
	{"filter", "FORWARD", []string{"-m", "comment", "--comment", "keel forwarding rules", "-j", chainForward}},
	{"filter", "OUTPUT", []string{"-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment", "keel service portals", "-j", chainServices}},
}

var builtinChains = map[string][]string{
	"filter": {"INPUT", "FORWARD", "OUTPUT"},
	"nat":    {"PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"},
}

// executor is the real Executor. Its methods serialize on mu, so Restore's
// read of the current chains and its write are one step for this process.
type executor struct {
	mu      sync.Mutex
	ipt     *goipt.IPTables
	restore string   // path of iptables-restore
	last    *ruleSet // the payload last restored, parsed; nil after a failure
}

var _ Executor = (*executor)(nil)

// New returns the real Executor (IPv4). It fails if iptables or
// iptables-restore is missing. The Executor runs them in the network
// namespace of the thread that calls its methods. The rules need
// iptables >= 1.6.2 (MASQUERADE --random-fully). Safe for concurrent use.
func New() (Executor, error) {
	ipt, err := goipt.New(goipt.IPFamily(goipt.ProtocolIPv4), goipt.Timeout(5))
	if err != nil {
		return nil, fmt.Errorf("iptables: %w", err)
	}
	restore, err := exec.LookPath("iptables-restore")
	if err != nil {
		return nil, err
	}
	return &executor{ipt: ipt, restore: restore}, nil
}

func (e *executor) Restore(payload []byte, full bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	next := parseRuleSet(payload)
	var send []byte
	if full || e.last == nil {
		existing := map[string][]string{}
		for _, table := range next.tables {
			chains, err := e.ipt.ListChains(table)
			if err != nil {
				return fmt.Errorf("listing %s chains: %w", table, err)
			}
			existing[table] = chains
		}
		send = withStaleChainsDeleted(payload, existing)
	} else if send = changes(*e.last, next); send == nil {
		return nil
	}
	e.last = nil
	cmd := exec.Command(e.restore, "-w", "5", "--noflush")
	cmd.Stdin = bytes.NewReader(send)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("iptables-restore: %w: %s%s", err, bytes.TrimSpace(out), failedLine(send, out))
	}
	e.last = &next
	return nil
}

var lineFailed = regexp.MustCompile(`line (\d+) failed`)

// failedLine quotes the payload line iptables-restore's output blames.
func failedLine(payload, out []byte) string {
	m := lineFailed.FindSubmatch(out)
	if m == nil {
		return ""
	}
	n, _ := strconv.Atoi(string(m[1]))
	lines := strings.Split(string(payload), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return fmt.Sprintf(" (line %d: %s)", n, lines[n-1])
}

func (e *executor) EnsureJumps() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, j := range jumps {
		ok, err := e.ipt.ChainExists(j.table, j.target())
		if err != nil {
			return err
		}
		if !ok {
			if err := e.ipt.NewChain(j.table, j.target()); err != nil {
				return err
			}
		}
	}
	// Insert in reverse so that, when all are missing, each built-in chain
	// ends up with its jumps in the order listed.
	for _, j := range slices.Backward(jumps) {
		ok, err := e.ipt.Exists(j.table, j.chain, j.rule...)
		if err != nil {
			return err
		}
		if !ok {
			if err := e.ipt.Insert(j.table, j.chain, 1, j.rule...); err != nil {
				return err
			}
		}
	}
	return nil
}

func (e *executor) Cleanup() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	var errs []error
	for _, table := range []string{"filter", "nat"} {
		for _, chain := range builtinChains[table] {
			rules, err := e.ipt.List(table, chain)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, r := range rules {
				spec, ok := keelJump(r, chain)
				if !ok {
					continue
				}
				if err := e.ipt.Delete(table, chain, spec...); err != nil {
					errs = append(errs, err)
				}
			}
		}
		chains, err := e.ipt.ListChains(table)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		chains = slices.DeleteFunc(chains, func(c string) bool { return !strings.HasPrefix(c, chainPrefix) })
		// Flush all before deleting any: they jump to each other.
		for _, c := range chains {
			if err := e.ipt.ClearChain(table, c); err != nil {
				errs = append(errs, err)
			}
		}
		for _, c := range chains {
			if err := e.ipt.DeleteChain(table, c); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// keelJump parses a rule as `iptables -S chain` prints it and, if it jumps
// (-j) or goes (-g) to a KEEL- chain, returns its rule spec for Delete.
func keelJump(rule, chain string) ([]string, bool) {
	words, ok := splitWords(rule)
	if !ok || len(words) < 2 || words[0] != "-A" || words[1] != chain {
		return nil, false
	}
	spec := words[2:]
	for i, w := range spec {
		if (w == "-j" || w == "-g") && i+1 < len(spec) && strings.HasPrefix(spec[i+1], chainPrefix) {
			return spec, true
		}
	}
	return nil, false
}

// splitWords splits s into words as iptables-save quotes them: blanks
// separate words, double quotes group, a backslash escapes the next
// character. It reports false for an unterminated quote.
func splitWords(s string) ([]string, bool) {
	var (
		words        []string
		cur          strings.Builder
		inWord, quot bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			i++
			cur.WriteByte(s[i])
			inWord = true
		case c == '"':
			quot = !quot
			inWord = true
		case (c == ' ' || c == '\t') && !quot:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, !quot
}

// withStaleChainsDeleted returns payload with the per-service chains that
// exist in the kernel (existing: table → chain names) but that payload
// does not declare flushed and deleted: each is declared right after its
// table's "*table" line and deleted ("-X") right before its COMMIT, after
// every rule that could still jump to it has been rewritten. Pure; the
// payload is returned unchanged when nothing is stale.
func withStaleChainsDeleted(payload []byte, existing map[string][]string) []byte {
	stale := map[string][]string{}
	for t, chains := range parseRuleSet(payload).chains {
		decl := make(map[string]bool, len(chains))
		for _, c := range chains {
			decl[c] = true
		}
		for _, c := range existing[t] {
			if !decl[c] && slices.ContainsFunc(perServicePrefixes, func(p string) bool { return strings.HasPrefix(c, p) }) {
				stale[t] = append(stale[t], c)
			}
		}
		slices.Sort(stale[t])
		stale[t] = slices.Compact(stale[t])
	}
	if len(stale) == 0 {
		return payload
	}
	var b bytes.Buffer
	table := ""
	for _, l := range strings.SplitAfter(string(payload), "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = strings.TrimSpace(l[1:])
			b.WriteString(l)
			declare(&b, stale[table]...)
			continue
		case strings.TrimSpace(l) == "COMMIT":
			for _, c := range stale[table] {
				fmt.Fprintf(&b, "-X %s\n", c)
			}
		}
		b.WriteString(l)
	}
	return b.Bytes()
}

// ruleSet is a payload parsed: per table, its chains in declaration order
// and each chain's "-A" lines in order.
type ruleSet struct {
	tables []string
	chains map[string][]string            // table → chains declared
	rules  map[string]map[string][]string // table → declared chain → rule lines
}

func parseRuleSet(payload []byte) ruleSet {
	rs := ruleSet{chains: map[string][]string{}, rules: map[string]map[string][]string{}}
	table := ""
	for _, l := range strings.Split(string(payload), "\n") {
		switch {
		case strings.HasPrefix(l, "*"):
			table = l[1:]
			rs.tables = append(rs.tables, table)
			rs.rules[table] = map[string][]string{}
		case table == "":
		case strings.HasPrefix(l, ":"):
			if f := strings.Fields(l[1:]); len(f) > 0 {
				rs.chains[table] = append(rs.chains[table], f[0])
				rs.rules[table][f[0]] = nil // declared, maybe empty
			}
		case strings.HasPrefix(l, "-A "):
			if f := strings.Fields(l); len(f) > 1 {
				rs.rules[table][f[1]] = append(rs.rules[table][f[1]], l)
			}
		}
	}
	return rs
}

// changes returns the payload that turns the kernel's Keel chains from p
// (a payload restored, parsed) into n: per table, the chains that are new
// or whose rules differ, declared (so flushed) and rewritten, and the
// chains p declared and n does not, flushed and then deleted after
// every rewrite (the rewritten chains no longer jump to them). Tables with
// no change are left out; nil means nothing changed. Pure.
func changes(p, n ruleSet) []byte {
	var b bytes.Buffer
	for _, table := range n.tables {
		var changed, gone []string
		for _, c := range n.chains[table] {
			if pr, ok := p.rules[table][c]; !ok || !slices.Equal(pr, n.rules[table][c]) {
				changed = append(changed, c)
			}
		}
		for _, c := range p.chains[table] {
			if _, ok := n.rules[table][c]; !ok {
				gone = append(gone, c)
			}
		}
		if len(changed)+len(gone) == 0 {
			continue
		}
		fmt.Fprintf(&b, "*%s\n", table)
		declare(&b, changed...)
		declare(&b, gone...)
		for _, c := range changed {
			for _, r := range n.rules[table][c] {
				b.WriteString(r + "\n")
			}
		}
		for _, c := range gone {
			fmt.Fprintf(&b, "-X %s\n", c)
		}
		b.WriteString("COMMIT\n")
	}
	if b.Len() == 0 {
		return nil
	}
	return b.Bytes()
}
