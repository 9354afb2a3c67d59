package create

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

func newCreateQuotaCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g      genOptions
		hard   string
		scopes string
	)
	cmd := &cobra.Command{
		Use:     "quota NAME [--hard=RESOURCE=QUANTITY,...] [--scopes=SCOPE,...]",
		Aliases: []string{"resourcequota"},
		Short:   "Create a resource quota with hard limits and optional scopes",
		Long: `Create a ResourceQuota named NAME in the namespace. --hard lists the limits,
each a resource and its quantity (pods, cpu, memory, requests.cpu, limits.memory,
services.nodeports, count/deployments.apps, ...); --scopes lists the scopes
(BestEffort, NotBestEffort, Terminating, NotTerminating, PriorityClass) that an
object must all match to be tracked by the quota.`,
		Example: `  keelctl create quota team-a --hard=pods=20,cpu=4,memory=8Gi,count/deployments.apps=5
  keelctl create quota batch --hard=pods=2,cpu=1 --scopes=BestEffort,NotTerminating`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, _, err := g.parse(cmd, args, false)
			if err != nil {
				return err
			}
			spec, err := quotaSpec(hard, scopes)
			if err != nil {
				return err
			}
			q := &corev1.ResourceQuota{Metadata: &metav1.ObjectMeta{Name: name}, Spec: spec}
			return createGenerated(c, cmd.Context(), kindOf(q), q, &g, "created")
		},
	}
	cmd.Flags().StringVar(&hard, "hard", "", "the hard limits: comma-separated RESOURCE=QUANTITY pairs")
	cmd.Flags().StringVar(&scopes, "scopes", "", "comma-separated scopes that every object the quota tracks must match")
	g.add(cmd)
	return cmd
}

// quotaSpec is the spec of the --hard and --scopes flags; a pair without
// "=" or an unparsable quantity is an error naming it (the apiserver
// validates names and scopes).
func quotaSpec(hard, scopes string) (*corev1.ResourceQuotaSpec, error) {
	spec := &corev1.ResourceQuotaSpec{}
	for _, pair := range strings.Split(hard, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" {
			return nil, fmt.Errorf("--hard %q: want RESOURCE=QUANTITY", pair)
		}
		if _, err := resource.ParseQuantity(v); err != nil {
			return nil, fmt.Errorf("--hard %s=%s: %v", k, v, err)
		}
		if spec.Hard == nil {
			spec.Hard = map[string]*metav1.Quantity{}
		}
		spec.Hard[k] = &metav1.Quantity{String_: v}
	}
	for _, s := range strings.Split(scopes, ",") {
		if s = strings.TrimSpace(s); s != "" {
			spec.Scopes = append(spec.Scopes, s)
		}
	}
	return spec, nil
}
