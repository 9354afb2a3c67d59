package controller_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"google.golang.org/protobuf/types/known/timestamppb"
	"k8s.io/apimachinery/pkg/labels"

	appsv1 "keel.dev/keel/pkg/apis/apps/v1"
	metav1 "keel.dev/keel/pkg/apis/meta/v1"
	"keel.dev/keel/pkg/controller"
)

// TestDecideClaimWithoutRelease covers the Deployment's use: controlled
// objects stay owned whatever their labels, orphans being deleted are not
// adopted, an owner being deleted adopts nothing. The ReplicaSet's use
// (release, adoptable) is covered in its package.
func TestDecideClaimWithoutRelease(t *testing.T) {
	tr := true
	rs := func(name, owner string, lbl string, deleting bool) *appsv1.ReplicaSet {
		m := &metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": lbl}}
		if owner != "" {
			m.OwnerReferences = []*metav1.OwnerReference{{Uid: owner, Controller: &tr}}
		}
		if deleting {
			m.DeletionTimestamp = timestamppb.Now()
		}
		return &appsv1.ReplicaSet{Metadata: m}
	}
	objs := []*appsv1.ReplicaSet{rs("mine", "d", "web", false), rs("relabelled", "d", "other", false), rs("orphan", "", "web", false),
		rs("stranger", "x", "web", false), rs("unrelated", "", "other", false), rs("going", "", "web", true)}
	sel := labels.SelectorFromSet(labels.Set{"app": "web"})
	names := func(l []*appsv1.ReplicaSet) string {
		var out []string
		for _, o := range l {
			out = append(out, o.GetMetadata().GetName())
		}
		return fmt.Sprint(out)
	}
	owner := &metav1.ObjectMeta{Uid: "d"}
	c := controller.DecideClaim(owner, sel, objs, controller.ClaimOptions[*appsv1.ReplicaSet]{})
	if names(c.Owned) != "[mine relabelled orphan]" || names(c.Adopt) != "[orphan]" || len(c.Release) != 0 {
		t.Errorf("owned %s, adopt %s, release %s", names(c.Owned), names(c.Adopt), names(c.Release))
	}
	owner.DeletionTimestamp = timestamppb.Now()
	c = controller.DecideClaim(owner, sel, objs, controller.ClaimOptions[*appsv1.ReplicaSet]{})
	if names(c.Owned) != "[mine relabelled]" || len(c.Adopt) != 0 {
		t.Errorf("an owner being deleted: owned %s, adopt %s", names(c.Owned), names(c.Adopt))
	}
}

// TestApplyClaim: releases and adoptions go through setOwner; a pod whose
// adoption fails is not owned, and the errors are returned.
func TestApplyClaim(t *testing.T) {
	p := func(name string) *appsv1.ReplicaSet {
		return &appsv1.ReplicaSet{Metadata: &metav1.ObjectMeta{Name: name, Uid: name}}
	}
	kept, good, bad, gone := p("kept"), p("good"), p("bad"), p("gone")
	claim := controller.Claim[*appsv1.ReplicaSet]{Owned: []*appsv1.ReplicaSet{kept, good, bad}, Adopt: []*appsv1.ReplicaSet{good, bad}, Release: []*appsv1.ReplicaSet{gone}}
	var calls []string
	owned, err := controller.ApplyClaim(context.Background(), claim, func(_ context.Context, o *appsv1.ReplicaSet, release bool) error {
		calls = append(calls, fmt.Sprintf("%s:%v", o.GetMetadata().GetName(), release))
		if o == bad {
			return errors.New("conflict")
		}
		return nil
	})
	if got := fmt.Sprint(calls); got != "[gone:true good:false bad:false]" {
		t.Errorf("calls %s", got)
	}
	if len(owned) != 2 || owned[0] != kept || owned[1] != good {
		t.Errorf("owned %v, want kept and good", owned)
	}
	if err == nil || err.Error() != "conflict" {
		t.Errorf("error %v, want the failed adoption's", err)
	}
}
