package action

import (
	"context"
	"log/slog"

	"github.com/logoutflow/logoutflow/metadata"
)

// API is what an action can do. A flow gives each action run its own API,
// which records every call in the run's result; package actiontest gives
// a recording one for tests.
type API interface {
	// Log writes a log record at level through the flow's logger, with
	// the action's name, the user ID and the session ID attached. Attrs
	// must not carry the user's personal data.
	Log(level slog.Level, msg string, attrs ...slog.Attr)

	// User is the user whose session ends.
	User() UserAPI

	// Session is the ending session.
	Session() SessionAPI
}

// UserAPI changes the user record.
type UserAPI interface {
	// SetAppMetadata merges patch into the stored app_metadata as
	// [metadata.Merge] does, after validating it; an invalid patch is
	// refused whole. The write is stored when the call returns.
	SetAppMetadata(ctx context.Context, patch metadata.Map) error

	// UpdateAppMetadata merges the patch fn computes from the stored
	// app_metadata, atomically: fn sees the value at the moment of the
	// write and runs again if another write got there first. Counters
	// that accumulate use it.
	UpdateAppMetadata(ctx context.Context, fn metadata.UpdateFunc) error

	// UpdateAppMetadataView is UpdateAppMetadata for a function that
	// reads the stored app_metadata through a read-only [metadata.View]
	// instead of a map of its own: a store that can lets it read the
	// stored value in place, so that the call costs what fn reads, not
	// the size of the user's whole app_metadata. Counters that read a
	// few keys use it. It is recorded as UpdateAppMetadata is.
	UpdateAppMetadataView(ctx context.Context, fn metadata.ViewFunc) error
}

// SessionAPI acts on the ending session.
type SessionAPI interface {
	// SetCustomClaim sets a claim on the session's current access token.
	// It never touches the user record. A flow keeps value as given, not
	// a copy: a map or slice changed after the call changes the run's
	// Result.Claims too.
	SetCustomClaim(key string, value any) error
}

// Names of API calls, as [Call.API] reports them.
const (
	CallLog            = "log"
	CallSetAppMetadata = "user.setAppMetadata"
	CallSetCustomClaim = "session.setCustomClaim"
)

// Call is one API call an action made. Which fields are set depends on
// API: Level, Message and Attrs for a log; Patch for a metadata write (an
// atomic update appears as the patch it applied, and one that failed as
// the patch last computed, or nil when that may have been computed from
// a guess of the stored value, as a pure action's first write may be);
// Key and Value for a custom claim.
type Call struct {
	API     string
	Level   slog.Level
	Message string
	Attrs   []slog.Attr
	Patch   metadata.Map
	Key     string
	Value   any

	// Err is the error the call returned to the action, if any.
	Err error
}
