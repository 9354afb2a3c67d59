package create_test

import (
	"slices"
	"strings"
	"testing"

	"keel.dev/keel/pkg/keelctl/internal/keelctltest"
)

func TestCreateCronJob(t *testing.T) {
	t.Parallel()
	k := keelctltest.StartCluster(t)
	ctx := k.Ctx()
	if out := k.Run("create", "cronjob", "nightly", "--image="+testImage, "--schedule=0 3 * * *", "--", "date").OK(t); out != "cronjob.batch/nightly created\n" {
		t.Errorf("create cronjob: %q", out)
	}
	cj, err := k.C.CronJobs("default").Get(ctx, "nightly")
	if err != nil {
		t.Fatal(err)
	}
	ps := cj.GetSpec().GetJobTemplate().GetSpec().GetTemplate().GetSpec()
	if cj.GetSpec().GetSchedule() != "0 3 * * *" || cj.GetSpec().GetConcurrencyPolicy() != "Allow" || ps.GetRestartPolicy() != "OnFailure" ||
		ps.GetContainers()[0].GetName() != "nightly" || !slices.Equal(ps.GetContainers()[0].GetCommand(), []string{"date"}) {
		t.Errorf("cronjob: %v", cj)
	}
	out := k.Run("get", "cronjobs").OK(t)
	if lines := strings.Split(out, "\n"); !strings.HasPrefix(lines[0], "NAME") || strings.Join(strings.Fields(lines[0]), " ") != "NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST SCHEDULE AGE" ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "nightly 0 3 * * * <none> False 0 <none>") {
		t.Errorf("get cronjobs:\n%s", out)
	}
	if out := k.Run("describe", "cj", "nightly").OK(t); !strings.Contains(out, "Schedule:") || !strings.Contains(out, "Concurrency Policy:") {
		t.Errorf("describe cronjob:\n%s", out)
	}

	// A Job by hand from the CronJob's template.
	if out := k.Run("create", "job", "nightly-manual", "--from=cronjob/nightly").OK(t); out != "job.batch/nightly-manual created\n" {
		t.Errorf("create job --from: %q", out)
	}
	j, err := k.C.Jobs("default").Get(ctx, "nightly-manual")
	if err != nil {
		t.Fatal(err)
	}
	owners := j.GetMetadata().GetOwnerReferences()
	if j.GetMetadata().GetAnnotations()["cronjob.kubernetes.io/instantiate"] != "manual" || len(owners) != 1 || owners[0].GetUid() != cj.GetMetadata().GetUid() ||
		j.GetSpec().GetTemplate().GetSpec().GetContainers()[0].GetImage() != testImage {
		t.Errorf("job from cronjob: %v", j)
	}

	// Bad input: refused, nothing written.
	k.Run("create", "cronjob", "bad", "--image="+testImage, "--schedule=* * * *").Fails(t, "spec.schedule")
	k.Run("create", "cronjob", "bad", "--image="+testImage).Fails(t, "--schedule is required")
	k.Run("create", "job", "x", "--from=deployment/web").Fails(t, "from must be of the form cronjob/NAME")
	k.Run("create", "job", "x", "--from=cronjob/missing").Fails(t, "not found")
	if _, err := k.C.CronJobs("default").Get(ctx, "bad"); err == nil {
		t.Error("the bad cronjob was stored")
	}
}
