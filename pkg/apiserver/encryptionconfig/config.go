// Package encryptionconfig reads keel-apiserver's
// --encryption-provider-config: Kubernetes' EncryptionConfiguration
// (apiserver.config.k8s.io/v1), which says which resources are encrypted
// in etcd and with which providers and keys. Parsing is strict (unknown
// fields are errors) and validation follows Kubernetes'; every error names
// the file and the field.
package encryptionconfig

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"keel.dev/keel/pkg/storage/value"
)

// Config is a loaded, validated EncryptionConfiguration.
type Config struct {
	rules []rule // in the file's order
}

// rule is one resource name of the file with its providers.
type rule struct {
	// group and resource are what the name matches; "*" is a wildcard.
	group, resource string
	chain           value.Chain
}

func (r rule) matches(gr schema.GroupResource) bool {
	return (r.group == "*" || r.group == gr.Group) && (r.resource == "*" || r.resource == gr.Resource)
}

// For returns the transformer of a resource: the providers of the first
// name in the file that matches it, or nil when none does (stored as is).
func (c *Config) For(gr schema.GroupResource) value.Transformer {
	for _, r := range c.rules {
		if r.matches(gr) {
			return r.chain
		}
	}
	return nil
}

// Load reads and validates file. served are the resources the apiserver
// stores: a name that is none of them (and not a wildcard) is an error.
func Load(file string, served []schema.GroupResource) (*Config, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config: %w", err)
	}
	c, err := Parse(data, served)
	if err != nil {
		return nil, fmt.Errorf("encryption provider config %s: %w", file, err)
	}
	return c, nil
}

// Parse decodes and validates a file's content; see Load. Its error lists
// every problem found, each with its field path.
func Parse(data []byte, served []schema.GroupResource) (*Config, error) {
	var ec EncryptionConfiguration
	if err := decodeStrict(data, &ec); err != nil {
		return nil, err
	}
	c := &Config{}
	if errs := c.build(&ec, served); len(errs) > 0 {
		return nil, join(errs)
	}
	return c, nil
}

// join is one error of every problem, "; "-separated.
func join(errs field.ErrorList) error {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return errors.New(strings.Join(msgs, "; "))
}

// build validates ec and makes its rules.
func (c *Config) build(ec *EncryptionConfiguration, served []schema.GroupResource) field.ErrorList {
	var errs field.ErrorList
	if ec.APIVersion != APIVersion {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), ec.APIVersion, "must be "+APIVersion))
	}
	if ec.Kind != Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), ec.Kind, "must be "+Kind))
	}
	root := field.NewPath("resources")
	if len(ec.Resources) == 0 {
		errs = append(errs, field.Required(root, "at least one resource configuration is required"))
	}
	seen := map[string]*field.Path{} // resource names so far
	var earlier []namedRule          // rules so far, to find masked names
	for i, rc := range ec.Resources {
		p := root.Index(i)
		chain, perrs := providers(p.Child("providers"), rc.Providers)
		errs = append(errs, perrs...)
		if len(rc.Resources) == 0 {
			errs = append(errs, field.Required(p.Child("resources"), "at least one resource name is required"))
		}
		for j, name := range rc.Resources {
			np := p.Child("resources").Index(j)
			r, err := parseResource(np, name)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if prev, ok := seen[name]; ok {
				errs = append(errs, field.Duplicate(np, name+" (also at "+prev.String()+")"))
				continue
			}
			seen[name] = np
			if m := masking(earlier, r); m != nil {
				errs = append(errs, field.Invalid(np, name, fmt.Sprintf("masked by %q at %s, which comes first and also matches it", m.name, m.path)))
				continue
			}
			if r.group != "*" && r.resource != "*" && !isServed(served, r) && !customGroup(served, r.group) {
				errs = append(errs, field.Invalid(np, name, "this apiserver stores no such resource"))
				continue
			}
			r.chain = chain
			earlier = append(earlier, namedRule{r, name, np})
			c.rules = append(c.rules, r)
		}
	}
	return errs
}

type namedRule struct {
	rule
	name string
	path *field.Path
}

// masking returns an earlier wildcard that matches everything r matches.
func masking(earlier []namedRule, r rule) *namedRule {
	for i, e := range earlier {
		if (e.group == "*" || e.group == r.group) && (e.resource == "*" || e.resource == r.resource) {
			return &earlier[i]
		}
	}
	return nil
}

func isServed(served []schema.GroupResource, r rule) bool {
	for _, gr := range served {
		if r.matches(gr) {
			return true
		}
	}
	return false
}

// customGroup reports whether group may be a custom resource's: a domain
// (CustomResourceDefinitions' groups hold a dot) of no built-in resource.
// Their definitions may come after the apiserver starts, so their names
// cannot be checked.
func customGroup(served []schema.GroupResource, group string) bool {
	if !strings.Contains(group, ".") {
		return false
	}
	for _, gr := range served {
		if gr.Group == group {
			return false
		}
	}
	return true
}

var resourceName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// parseResource reads one resource name: "secrets", "deployments.apps",
// "*.apps", "*." or "*.*".
func parseResource(p *field.Path, name string) (rule, *field.Error) {
	res, group, _ := strings.Cut(name, ".")
	switch {
	case name == "*.*":
		return rule{group: "*", resource: "*"}, nil
	case name == "*":
		return rule{}, field.Invalid(p, name, `use "*.*" for every resource or "*." for every resource of the core group`)
	case group == "*":
		return rule{}, field.Invalid(p, name, `a wildcard group is not supported: name the group, or use "*.*"`)
	case strings.ToLower(name) != name:
		return rule{}, field.Invalid(p, name, "resource names are lowercase")
	case res != "*" && !resourceName.MatchString(res):
		return rule{}, field.Invalid(p, name, "must be a resource name (lowercase plural, e.g. secrets), optionally followed by .group")
	}
	if group != "" {
		if msgs := validation.IsDNS1123Subdomain(group); len(msgs) > 0 {
			return rule{}, field.Invalid(p, name, "the group "+group+" is not a valid API group: "+strings.Join(msgs, ", "))
		}
	}
	return rule{group: group, resource: res}, nil
}

// providers validates one resource configuration's providers and returns
// their chain: each provider's keys in order, providers in order.
func providers(p *field.Path, pcs []ProviderConfiguration) (value.Chain, field.ErrorList) {
	var (
		chain value.Chain
		errs  field.ErrorList
	)
	if len(pcs) == 0 {
		return nil, field.ErrorList{field.Required(p, "at least one provider is required")}
	}
	names := map[string]*field.Path{} // provider/keyname: prefixes must differ
	for k, pc := range pcs {
		pp := p.Index(k)
		set := 0
		for _, x := range []bool{pc.AESGCM != nil, pc.AESCBC != nil, pc.Secretbox != nil, pc.Identity != nil} {
			if x {
				set++
			}
		}
		switch {
		case set == 0:
			errs = append(errs, field.Required(pp, "one of aesgcm, aescbc, secretbox or identity is required"))
			continue
		case set > 1:
			errs = append(errs, field.Invalid(pp, "", "more than one provider in one list element: give each provider an element of its own"))
			continue
		case pc.Identity != nil:
			chain = append(chain, value.Identity)
			continue
		}
		kind, kc, sizes, newCipher := "aesgcm", pc.AESGCM, []int{16, 24, 32}, value.NewAESGCM
		if pc.AESCBC != nil {
			kind, kc, newCipher = "aescbc", pc.AESCBC, value.NewAESCBC
		} else if pc.Secretbox != nil {
			kind, kc, sizes, newCipher = "secretbox", pc.Secretbox, []int{value.SecretboxKeySize}, value.NewSecretbox
		}
		kp := pp.Child(kind, "keys")
		if len(kc.Keys) == 0 {
			errs = append(errs, field.Required(kp, "at least one key is required"))
		}
		for i, key := range kc.Keys {
			ip := kp.Index(i)
			secret, kerrs := checkKey(ip, key, names, kind, sizes)
			if len(kerrs) > 0 {
				errs = append(errs, kerrs...)
				continue
			}
			c, err := newCipher(secret)
			if err != nil {
				errs = append(errs, field.Invalid(ip.Child("secret"), "REDACTED", err.Error()))
				continue
			}
			chain = append(chain, value.NewProvider(kind, key.Name, c))
		}
	}
	return chain, errs
}

// checkKey validates one key of a provider of kind and returns its bytes.
func checkKey(p *field.Path, key Key, names map[string]*field.Path, kind string, sizes []int) ([]byte, field.ErrorList) {
	var errs field.ErrorList
	np := p.Child("name")
	switch {
	case key.Name == "":
		errs = append(errs, field.Required(np, "a key needs a name"))
	case strings.Contains(key.Name, ":"):
		errs = append(errs, field.Invalid(np, key.Name, `must not contain ":" (it ends the key name in stored values' prefix)`))
	default:
		if prev, ok := names[kind+"/"+key.Name]; ok {
			errs = append(errs, field.Duplicate(np, key.Name+" (also at "+prev.String()+"): "+kind+" key names must be unique"))
		}
		names[kind+"/"+key.Name] = np
	}
	sp := p.Child("secret")
	if key.Secret == "" {
		return nil, append(errs, field.Required(sp, "a key needs a secret (base64)"))
	}
	secret, err := base64.StdEncoding.DecodeString(key.Secret)
	if err != nil {
		return nil, append(errs, field.Invalid(sp, "REDACTED", "must be base64: "+err.Error()))
	}
	ok := false
	for _, s := range sizes {
		ok = ok || len(secret) == s
	}
	if !ok {
		errs = append(errs, field.Invalid(sp, "REDACTED", fmt.Sprintf("is %d bytes; %s keys are %s bytes", len(secret), kind, sizeList(sizes))))
	}
	return secret, errs
}

func sizeList(sizes []int) string {
	s := make([]string, len(sizes))
	for i, n := range sizes {
		s[i] = fmt.Sprint(n)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
