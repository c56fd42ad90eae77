package metadata

import (
	"context"
	"errors"
)

// ErrBarred is returned by [GuardedUpdater.UpdateGuarded] when the user
// has the update's guard receipt: nothing was written or recorded.
var ErrBarred = errors.New("metadata: barred by a recorded receipt")

// GuardedUpdate is one write of [GuardedUpdater.UpdateGuarded].
type GuardedUpdate struct {
	// UserID and Receipt are those of [Store.Update].
	UserID, Receipt string

	// Guard is a receipt that bars the write when the user has it;
	// empty means none. The flow runner passes the receipt of the
	// session's end: one store call then both finds that the session
	// has not ended yet and stores what its logout writes.
	Guard string

	// Expect is what the caller believes is stored, such as the snapshot an
	// event carries (action.User.AppMetadata); an empty map guesses that
	// nothing is stored, and nil is no guess. It is a guess, which a store
	// may use or ignore: a store across a network computes the patch from
	// it and writes only if the stored value is still the same, saving the
	// round trip of a read, and a wrong guess costs that round trip back,
	// never a wrong value. The store neither keeps nor changes it.
	Expect Map

	// Fn computes the patch, as the function of [Viewer.UpdateView]
	// does; nil writes nothing, and records the receipt unless the
	// guard bars the write.
	Fn ViewFunc
}

// GuardedUpdater is an optional interface of a [Store]: UpdateGuarded is
// [Viewer.UpdateView] that takes the user's guard receipt into its atomic
// step. When the user has u.Guard, it writes nothing, records nothing and
// returns an error wrapping [ErrBarred]; when the user has u.Receipt and
// not u.Guard, it returns one wrapping [ErrDuplicate], as Update does;
// otherwise it is UpdateView.
//
// Unlike Update, it may call u.Fn before it knows whether either
// receipt is recorded, on u.Expect. What such a call gives is the
// write's result only if the stored value turns out to be u.Expect, and
// to measure as u.Expect against the store's limits: otherwise its patch
// is discarded, and so are its error and a refusal of its patch (too
// large, invalid) that the stored value would not cause, and the store
// calls u.Fn again on the stored value. When UpdateGuarded returns
// nil, the patch stored is the one of the last call; when it returns
// ErrBarred or ErrDuplicate, no call's patch was stored. A caller that
// acts on what u.Fn saw must therefore wait for the answer. The flow
// runner uses it for an action that does nothing but through its API
// (action.Action.Pure), and discards what the action did when the
// write is barred.
type GuardedUpdater interface {
	UpdateGuarded(ctx context.Context, u GuardedUpdate) error
}
