// Package session follows sessions between sign-in and their end, so that
// every session that ends is counted once, whatever ended it: a sign-out,
// an expiry, or a revocation.
//
// A [Tracker] is told of each session when it starts ([Tracker.Start])
// and of its activity on each request ([Tracker.Touch], coalesced: at
// most one store write per [Options.Interval]). It ends a session by
// running the flow of a session-end trigger through a [flow.Runner]:
//
//   - [action.Logout], when the user signs out ([Tracker.End]);
//   - [action.Revoke], when an administrator ends a session, or the user
//     signs out everywhere ([Tracker.EndAll]);
//   - [action.Expire], when the session was idle too long or reached its
//     absolute lifetime: a [Sweeper] finds those sessions in the [Store]
//     and ends them in batches, and a server that detects expiry itself
//     calls [Tracker.End] with Expire, or runs the flow of the event
//     [Tracker.Event] builds.
//
// Each event carries the session's start as last_login_at and its last
// activity as last_active_at, so that track-logout-stats (package
// sessionstats) counts an expired session up to its last activity, not
// to the moment its expiry was noticed.
//
// A session counts once, whichever end comes first: the flow runner runs
// nothing for a session it has already ended, and the tracker marks the
// ended session in its store, so that a touch after the end never brings
// it back.
//
// The tracker works on one process's memory and a [Store] that processes
// may share; [MemStore] keeps sessions in memory, for one process.
package session
