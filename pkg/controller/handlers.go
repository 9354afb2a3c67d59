package controller

import (
	"keel.dev/keel/pkg/client/informer"
	"keel.dev/keel/pkg/client/workqueue"
	"keel.dev/keel/pkg/scheme"
)

// EnqueueHandlers are informer handlers that add to q the key
// ("namespace/name") of every object added, updated (resyncs included) or
// deleted: the handlers of a controller's own kind.
func EnqueueHandlers[T scheme.Object](q workqueue.Interface[string]) informer.HandlerFuncs[T] {
	add := func(o T) { q.Add(informer.KeyOf(o)) }
	return informer.HandlerFuncs[T]{AddFunc: add, UpdateFunc: func(_, o T) { add(o) }, DeleteFunc: add}
}

// ChangeHandlers are informer handlers that call changed with every object
// added or deleted and with both the old and the new object of an update,
// so that an object whose labels moved it from one owner to another
// reaches both. Resyncs (an update to the same resourceVersion) are
// skipped: the handlers of the kinds a controller watches for its owners'
// sake (pods).
func ChangeHandlers[T scheme.Object](changed func(T)) informer.HandlerFuncs[T] {
	return informer.HandlerFuncs[T]{
		AddFunc: changed,
		UpdateFunc: func(old, o T) {
			if old.GetMetadata().GetResourceVersion() == o.GetMetadata().GetResourceVersion() {
				return
			}
			changed(old)
			changed(o)
		},
		DeleteFunc: changed,
	}
}
