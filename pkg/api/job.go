package api

import batchv1 "keel.dev/keel/pkg/apis/batch/v1"

// JobFinishedCondition returns the Job's Complete or Failed condition when
// it is True (the Job is finished), else nil.
func JobFinishedCondition(j *batchv1.Job) *batchv1.JobCondition {
	for _, cond := range j.GetStatus().GetConditions() {
		if (cond.GetType() == JobComplete || cond.GetType() == JobFailed) && cond.GetStatus() == ConditionTrue {
			return cond
		}
	}
	return nil
}
