package scheme

import (
	"context"
	"sync/atomic"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// Answer is a slot in which an API handler called in its caller's process
// leaves, beside the Any it answers with, the message that Any encodes, so
// that the caller (the REST API, which answers in JSON) need not decode
// the Any again. A handler offers the message with OfferAnswer; the
// caller asks for it with Object, which gives it only for that very Any,
// so a request whose handlers store several objects, or none, cannot be
// answered with the wrong one. Safe for concurrent use; the zero value is
// an empty slot.
type Answer struct {
	offered atomic.Pointer[offer]
}

type offer struct {
	any *anypb.Any
	obj proto.Message
}

type answerKey struct{}

// WithAnswer returns ctx carrying the slot a for the calls made with it.
func WithAnswer(ctx context.Context, a *Answer) context.Context {
	return context.WithValue(ctx, answerKey{}, a)
}

// AnswerOf returns ctx's slot, or nil.
func AnswerOf(ctx context.Context) *Answer {
	s, _ := ctx.Value(answerKey{}).(*Answer)
	return s
}

// WantsAnswer reports whether ctx carries a slot, so that a handler
// prepares the message only when someone will take it.
func WantsAnswer(ctx context.Context) bool {
	return AnswerOf(ctx) != nil
}

// OfferAnswer leaves obj, the message a encodes (equal to what
// unpacking a gives), in ctx's slot, if it has one. The caller then owns
// obj: the handler must not change it afterwards.
func OfferAnswer(ctx context.Context, a *anypb.Any, obj proto.Message) {
	if s := AnswerOf(ctx); s != nil {
		s.offered.Store(&offer{any: a, obj: obj})
	}
}

// Object returns the message offered for a, or nil.
func (s *Answer) Object(a *anypb.Any) proto.Message {
	if s == nil {
		return nil
	}
	if o := s.offered.Load(); o != nil && o.any == a {
		return o.obj
	}
	return nil
}
