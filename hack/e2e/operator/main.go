// Command operator is a small operator built with controller-runtime, as
// operator authors build theirs, that the end-to-end tests run against
// Keel: for each Greeting (greetings.demo.keel.dev/v1, a custom resource)
// it keeps a ConfigMap NAME-greeting holding spec.message, owned by the
// Greeting (so the garbage collector removes it with its owner), and
// reports status.observedGeneration and status.ready.
//
// It reads the apiserver's address and credentials from a kubeconfig
// (--kubeconfig or $KUBECONFIG), like any controller-runtime program.
package main

import (
	"context"
	"flag"
	"os"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// greetingGVK is the custom resource's kind.
var greetingGVK = schema.GroupVersionKind{Group: "demo.keel.dev", Version: "v1", Kind: "Greeting"}

func newGreeting() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(greetingGVK)
	return u
}

// reconciler keeps a Greeting's ConfigMap and status.
type reconciler struct {
	client.Client
	scheme *runtime.Scheme
}

func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	g := newGreeting()
	if err := r.Get(ctx, req.NamespacedName, g); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if g.GetDeletionTimestamp() != nil {
		return ctrl.Result{}, nil
	}
	message, _, _ := unstructured.NestedString(g.Object, "spec", "message")
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: req.Name + "-greeting", Namespace: req.Namespace}}
	if _, err := controllerutil.CreateOrUpdate(ctx, r.Client, cm, func() error {
		cm.Data = map[string]string{"message": message}
		return controllerutil.SetControllerReference(g, cm, r.scheme)
	}); err != nil {
		return ctrl.Result{}, err
	}
	if err := unstructured.SetNestedField(g.Object, g.GetGeneration(), "status", "observedGeneration"); err != nil {
		return ctrl.Result{}, err
	}
	if err := unstructured.SetNestedField(g.Object, true, "status", "ready"); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.Status().Update(ctx, g); err != nil && !apierrors.IsConflict(err) {
		return ctrl.Result{}, err
	} else if err != nil {
		return ctrl.Result{Requeue: true}, nil
	}
	return ctrl.Result{}, nil
}

func main() {
	opts := zap.Options{Development: true}
	opts.BindFlags(flag.CommandLine)
	flag.Parse() // controller-runtime adds --kubeconfig
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	log := ctrl.Log.WithName("operator")

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		log.Error(err, "scheme")
		os.Exit(1)
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{
		Scheme:         scheme,
		Metrics:        metricsserver.Options{BindAddress: "0"},
		LeaderElection: false,
	})
	if err != nil {
		log.Error(err, "manager")
		os.Exit(1)
	}
	r := &reconciler{Client: mgr.GetClient(), scheme: scheme}
	if err := ctrl.NewControllerManagedBy(mgr).Named("greeting").For(newGreeting()).Owns(&corev1.ConfigMap{}).Complete(r); err != nil {
		log.Error(err, "controller")
		os.Exit(1)
	}
	log.Info("starting")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}
