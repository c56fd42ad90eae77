// Package flow runs an auth server's Logout flow: an ordered list of
// blocks that runs every time a session ends.
//
// # Blocks
//
// Two kinds of block exist, and only this package can add more:
//
//   - [RunCustomAction] runs one named action of an [action.Registry];
//   - [RevokeSession] ends the session through the auth server's
//     [Revoker].
//
// [New] builds a [Flow] for one trigger and refuses it unless
// RevokeSession appears exactly once, as the last block, and every
// RunCustomAction names an action registered for that trigger. The error
// names the block's position, counted from 1, and the action.
//
// # Running
//
// A [Runner] holds the published flow of each trigger. [Runner.Publish]
// swaps a flow in atomically: a run already under way finishes on the
// version it started with. [Runner.Run] then, for one event:
//
//  1. reads the live flow once;
//  2. returns at once, with [Result.Repeat] set, when the session has
//     already ended (a double click, a retry, another tab): it asks
//     the store first, or, when the first block is a pure action
//     ([action.Action.Pure]) and the store a
//     [metadata.GuardedUpdater], in that action's first write, which
//     so saves a logout one store call;
//  3. runs each enabled action under its own deadline
//     ([Options.Timeout]), in a goroutine of its own or, for an
//     [action.Action.Inline] one, on the caller's; whatever an action
//     writes to app_metadata is stored before the next block runs;
//  4. revokes the session;
//  5. records in the store that the session has ended, so that it is
//     counted once: before Run returns, or after with
//     [Options.DeferEnd], which gathers the ends of many runs into one
//     store call on a [metadata.BatchRecorder].
//
// A failing action (an error, a panic, its deadline, a store failure)
// never stops the flow: it is logged, reported in the [Result], and the
// session is still revoked. A failing RevokeSession is returned to the
// caller as an error wrapping [ErrRevoke]: the user is still signed in.
//
// # What actions see
//
// Each action run gets an [action.API] whose calls the runner records, in
// order, in the step's [Step.Calls]: logs go to the runner's
// [*slog.Logger] with the action's name, the user ID and the session ID
// attached; metadata writes go to the store with a receipt, so that a
// retried run does not apply them twice; custom claims are gathered in
// [Result.Claims] for the auth server to put on the access token.
//
// # Receipts
//
// The receipt of a write is "<session>/<action>/<rank>", rank counting
// the action's writes in the run from 1, across every block the action
// has in the flow; the end of a session is recorded as "<session>/end".
// The receipts of one session so share the prefix "<session>/", which a
// store may read them by, and never clash with another session's: a
// write's receipt ends in digits, an end's in "end", and action names
// hold no '/'.
package flow
