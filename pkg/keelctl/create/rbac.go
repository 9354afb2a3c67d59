package create

import (
	"fmt"
	"keel.dev/keel/pkg/api"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/labels"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	rbacv1 "keel.dev/keel/pkg/apis/rbac/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
	"keel.dev/keel/pkg/scheme"
)

// validVerbs are the verbs kubectl's create role accepts.
var validVerbs = []string{"*", "get", "list", "watch", "create", "update", "patch", "delete", "deletecollection", "use", "bind", "escalate", "impersonate"}

func newCreateServiceAccountCommand(c *cmdutil.CLI) *cobra.Command {
	var g genOptions
	cmd := &cobra.Command{
		Use:     "serviceaccount NAME",
		Aliases: []string{"sa"},
		Short:   "Create a service account",
		Example: `  keelctl create serviceaccount builder`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			sa := &corev1.ServiceAccount{Metadata: &metav1.ObjectMeta{Name: name}}
			return createGenerated(c, cmd.Context(), kindOf(sa), sa, &g, "created")
		},
	}
	g.add(cmd)
	return cmd
}

// ruleFlags are the flags of create role and create clusterrole.
type ruleFlags struct {
	verbs, resources, names []string
}

func (f *ruleFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.verbs, "verb", nil, "verbs the rule grants (get, list, watch, create, update, patch, delete, …, or *)")
	cmd.Flags().StringSliceVar(&f.resources, "resource", nil, `resources the rule applies to: "pods", "deployments.apps", "pods/log", "*"`)
	cmd.Flags().StringSliceVar(&f.names, "resource-name", nil, "objects the rule is limited to")
}

// rules builds the rules: one per API group of the resources, each with
// every verb; nonResourceURLs (cluster roles) in a rule of their own.
func (f *ruleFlags) rules(nonResourceURLs []string) ([]*rbacv1.PolicyRule, error) {
	if len(f.verbs) == 0 {
		return nil, fmt.Errorf("at least one verb must be specified")
	}
	for _, v := range f.verbs {
		if !slices.Contains(validVerbs, v) {
			return nil, fmt.Errorf("invalid verb: '%s'", v)
		}
	}
	if len(f.resources) == 0 && len(nonResourceURLs) == 0 {
		return nil, fmt.Errorf("at least one resource must be specified")
	}
	var rules []*rbacv1.PolicyRule
	byGroup := map[string]*rbacv1.PolicyRule{}
	for _, r := range f.resources {
		group, resource, err := resourceGroup(r)
		if err != nil {
			return nil, err
		}
		rule, ok := byGroup[group]
		if !ok {
			rule = &rbacv1.PolicyRule{Verbs: f.verbs, ApiGroups: []string{group}, ResourceNames: f.names}
			byGroup[group] = rule
			rules = append(rules, rule)
		}
		rule.Resources = append(rule.Resources, resource)
	}
	if len(nonResourceURLs) > 0 {
		for _, u := range nonResourceURLs {
			if !strings.HasPrefix(u, "/") {
				return nil, fmt.Errorf("--non-resource-url %q: want a URL path starting with /", u)
			}
		}
		rules = append(rules, &rbacv1.PolicyRule{Verbs: f.verbs, NonResourceUrls: nonResourceURLs})
	}
	return rules, nil
}

// resourceGroup resolves a --resource value ("pods", "pods/log",
// "deployments.apps", "*") to its API group and the resource as a rule
// names it.
func resourceGroup(arg string) (group, resource string, err error) {
	if arg == "*" {
		return "*", "*", nil
	}
	base, sub, _ := strings.Cut(arg, "/")
	name, wantGroup, qualified := strings.Cut(base, ".")
	k, ok := scheme.ByResource(name)
	if !ok || (qualified && k.Group != wantGroup) {
		return "", "", fmt.Errorf("the server doesn't have a resource type %q", base)
	}
	resource = k.Resource
	if sub != "" {
		resource += "/" + sub
	}
	return k.Group, resource, nil
}

func newCreateRoleCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g genOptions
		f ruleFlags
	)
	cmd := &cobra.Command{
		Use:     "role NAME --verb=VERB --resource=RESOURCE [--resource-name=NAME]",
		Short:   "Create a role granting verbs on resources of one namespace",
		Example: `  keelctl create role pod-reader --verb=get,list,watch --resource=pods,pods/log`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			rules, err := f.rules(nil)
			if err != nil {
				return err
			}
			r := &rbacv1.Role{Metadata: &metav1.ObjectMeta{Name: name}, Rules: rules}
			return createGenerated(c, cmd.Context(), kindOf(r), r, &g, "created")
		},
	}
	g.add(cmd)
	f.add(cmd)
	return cmd
}

func newCreateClusterRoleCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g           genOptions
		f           ruleFlags
		urls        []string
		aggregation string
	)
	cmd := &cobra.Command{
		Use:   "clusterrole NAME --verb=VERB --resource=RESOURCE | --non-resource-url=URL | --aggregation-rule=SELECTOR",
		Short: "Create a cluster role",
		Example: `  keelctl create clusterrole secret-reader --verb=get,list --resource=secrets
  keelctl create clusterrole health --verb=get --non-resource-url=/healthz
  keelctl create clusterrole monitoring --aggregation-rule="rbac.example.com/aggregate-to-monitoring=true"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			r := &rbacv1.ClusterRole{Metadata: &metav1.ObjectMeta{Name: name}}
			if aggregation != "" {
				if len(f.verbs) > 0 || len(f.resources) > 0 || len(urls) > 0 {
					return fmt.Errorf("--aggregation-rule can't be combined with --verb, --resource or --non-resource-url")
				}
				m, err := labels.ConvertSelectorToLabelsMap(aggregation)
				if err != nil || len(m) == 0 {
					return fmt.Errorf("--aggregation-rule %q: want KEY=VALUE[,KEY=VALUE…]", aggregation)
				}
				r.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []*metav1.LabelSelector{{MatchLabels: m}}}
			} else if r.Rules, err = f.rules(urls); err != nil {
				return err
			}
			return createGenerated(c, cmd.Context(), kindOf(r), r, &g, "created")
		},
	}
	g.add(cmd)
	f.add(cmd)
	cmd.Flags().StringSliceVar(&urls, "non-resource-url", nil, "URL paths the rule applies to (/healthz, /metrics)")
	cmd.Flags().StringVar(&aggregation, "aggregation-rule", "", "label selector of the cluster roles whose rules this one aggregates")
	return cmd
}

// subjectFlags are the --user, --group and --serviceaccount flags of the
// binding generators.
type subjectFlags struct {
	users, groups, serviceAccounts []string
}

func (f *subjectFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringSliceVar(&f.users, "user", nil, "users to bind the role to")
	cmd.Flags().StringSliceVar(&f.groups, "group", nil, "groups to bind the role to")
	cmd.Flags().StringSliceVar(&f.serviceAccounts, "serviceaccount", nil, "service accounts to bind the role to, as NAMESPACE:NAME")
}

func (f *subjectFlags) subjects() ([]*rbacv1.Subject, error) {
	var out []*rbacv1.Subject
	for _, u := range f.users {
		out = append(out, &rbacv1.Subject{Kind: api.SubjectKindUser, ApiGroup: api.GroupRBAC, Name: u})
	}
	for _, g := range f.groups {
		out = append(out, &rbacv1.Subject{Kind: api.SubjectKindGroup, ApiGroup: api.GroupRBAC, Name: g})
	}
	for _, sa := range f.serviceAccounts {
		ns, name, ok := strings.Cut(sa, ":")
		if !ok || ns == "" || name == "" {
			return nil, fmt.Errorf("serviceaccount must be <namespace>:<name>, got %q", sa)
		}
		out = append(out, &rbacv1.Subject{Kind: api.SubjectKindServiceAccount, Namespace: ns, Name: name})
	}
	return out, nil
}

func newCreateRoleBindingCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g                 genOptions
		s                 subjectFlags
		role, clusterRole string
	)
	cmd := &cobra.Command{
		Use:     "rolebinding NAME --role=NAME | --clusterrole=NAME [--user=USER] [--group=GROUP] [--serviceaccount=NAMESPACE:NAME]",
		Short:   "Create a role binding for a role or cluster role",
		Example: `  keelctl create rolebinding read-pods --role=pod-reader --user=jane --serviceaccount=shop:builder`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			if (role == "") == (clusterRole == "") {
				return fmt.Errorf("exactly one of clusterrole or role must be specified")
			}
			subjects, err := s.subjects()
			if err != nil {
				return err
			}
			ref := &rbacv1.RoleRef{ApiGroup: api.GroupRBAC, Kind: api.RoleKindRole, Name: role}
			if clusterRole != "" {
				ref.Kind, ref.Name = api.RoleKindClusterRole, clusterRole
			}
			b := &rbacv1.RoleBinding{Metadata: &metav1.ObjectMeta{Name: name}, RoleRef: ref, Subjects: subjects}
			return createGenerated(c, cmd.Context(), kindOf(b), b, &g, "created")
		},
	}
	g.add(cmd)
	s.add(cmd)
	cmd.Flags().StringVar(&role, "role", "", "the Role to bind")
	cmd.Flags().StringVar(&clusterRole, "clusterrole", "", "the ClusterRole to bind within the namespace")
	return cmd
}

func newCreateClusterRoleBindingCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g           genOptions
		s           subjectFlags
		clusterRole string
	)
	cmd := &cobra.Command{
		Use:     "clusterrolebinding NAME --clusterrole=NAME [--user=USER] [--group=GROUP] [--serviceaccount=NAMESPACE:NAME]",
		Short:   "Create a cluster role binding for a cluster role",
		Example: `  keelctl create clusterrolebinding read-secrets --clusterrole=secret-reader --group=auditors`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			if clusterRole == "" {
				return fmt.Errorf("--clusterrole is required")
			}
			subjects, err := s.subjects()
			if err != nil {
				return err
			}
			b := &rbacv1.ClusterRoleBinding{Metadata: &metav1.ObjectMeta{Name: name},
				RoleRef: &rbacv1.RoleRef{ApiGroup: api.GroupRBAC, Kind: api.RoleKindClusterRole, Name: clusterRole}, Subjects: subjects}
			return createGenerated(c, cmd.Context(), kindOf(b), b, &g, "created")
		},
	}
	g.add(cmd)
	s.add(cmd)
	cmd.Flags().StringVar(&clusterRole, "clusterrole", "", "the ClusterRole to bind")
	return cmd
}
