package create

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"keel.dev/keel/pkg/api"
	batchv1 "keel.dev/keel/pkg/apis/batch/v1"
	corev1 "keel.dev/keel/pkg/apis/core/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/keelctl/cmdutil"
)

// instantiateAnnotation marks a Job made from a CronJob by hand, as
// kubectl create job --from marks it.
const instantiateAnnotation = "cronjob.kubernetes.io/instantiate"

func newCreateCronJobCommand(c *cmdutil.CLI) *cobra.Command {
	var (
		g        genOptions
		image    string
		schedule string
		restart  string
	)
	cmd := &cobra.Command{
		Use:     "cronjob NAME --image=IMAGE --schedule='0/5 * * * ?' [--restart=OnFailure|Never] [-- COMMAND [ARG...]]",
		Aliases: []string{"cj"},
		Short:   "Create a cronjob that runs the given image on a schedule",
		Long: `Create a cronjob named NAME that, at each time of --schedule (standard cron
syntax or a macro such as @hourly), runs a job with one container, also named
NAME, running the image. The words after "--" are the container's command.`,
		Example: `  keelctl create cronjob hello --image=registry.keel.test/busybox:1.35 --schedule="*/1 * * * *" -- date`,
		RunE: func(cmd *cobra.Command, args []string) error {
			name, command, err := g.parse(cmd, args, true)
			if err != nil {
				return err
			}
			switch {
			case strings.TrimSpace(image) == "":
				return errors.New("--image is required")
			case strings.TrimSpace(schedule) == "":
				return errors.New("--schedule is required")
			case restart != api.RestartPolicyOnFailure && restart != api.RestartPolicyNever:
				return fmt.Errorf("--restart=%s: must be OnFailure or Never", restart)
			}
			cj := &batchv1.CronJob{
				Metadata: &metav1.ObjectMeta{Name: name},
				Spec: &batchv1.CronJobSpec{Schedule: schedule, JobTemplate: &batchv1.JobTemplateSpec{
					Metadata: &metav1.ObjectMeta{Name: name},
					Spec: &batchv1.JobSpec{Template: &corev1.PodTemplateSpec{Spec: &corev1.PodSpec{
						Containers:    []*corev1.Container{{Name: name, Image: image, Command: command}},
						RestartPolicy: restart,
					}}},
				}},
			}
			return createGenerated(c, cmd.Context(), kindOf(cj), cj, &g, "created")
		},
	}
	cmd.Flags().StringVar(&image, "image", "", "the image of the job's container")
	cmd.Flags().StringVar(&schedule, "schedule", "", "the schedule in cron format")
	cmd.Flags().StringVar(&restart, "restart", api.RestartPolicyOnFailure, "the job's restart policy: OnFailure or Never")
	g.add(cmd)
	return cmd
}

// jobFromCronJob reads the CronJob that from names ("cronjob/NAME") and
// returns a Job named name made from its template, annotated as made by
// hand and owned by the CronJob, as kubectl create job --from does.
func jobFromCronJob(ctx context.Context, c *cmdutil.CLI, from, name string) (*batchv1.Job, error) {
	kind, cjName, ok := strings.Cut(from, "/")
	if !ok || cjName == "" || (kind != "cronjob" && kind != "cronjobs" && kind != "cj" && kind != "cronjob.batch") {
		return nil, fmt.Errorf("--from=%s: from must be of the form cronjob/NAME", from)
	}
	cl, err := c.Clientset()
	if err != nil {
		return nil, err
	}
	cj, err := cl.CronJobs(c.NS()).Get(ctx, cjName)
	if err != nil {
		return nil, err
	}
	j := api.JobFromCronJob(cj, name)
	j.Metadata.Annotations[instantiateAnnotation] = "manual"
	j.Metadata.OwnerReferences = []*metav1.OwnerReference{{ApiVersion: "batch/v1", Kind: "CronJob",
		Name: cj.GetMetadata().GetName(), Uid: cj.GetMetadata().GetUid(), Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}}
	return j, nil
}
