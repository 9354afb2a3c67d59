package apiserver

import (
	"context"

	"google.golang.org/protobuf/proto"
)

// HandleCreate registers h as the answer to creates on key (see
// handleCreate), for tests of the mechanism; call it before any request.
func HandleCreate(s *Server, key string, h func(ctx context.Context, call CreateCall) (proto.Message, error)) {
	s.handleCreate(key, h)
}
