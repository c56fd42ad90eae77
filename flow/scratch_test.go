package flow_test

import (
	"context"
	"testing"

	"github.com/logoutflow/logoutflow/sessionstats"
)

func benchParts(b *testing.B, has, write, end bool) {
	bn := newBench(b, benchUsers)
	l := bn.logouts(sessionIDs(1<<20), 0, 1)
	stats := sessionstats.New(sessionstats.Options{Clock: fixedClock{}})
	api := &bareAPI{store: bn.store}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ev := l.next()
		sid := ev.Session.ID
		endr := sid + "/end"
		api.user, api.receipt = ev.User.ID, sid+"/"+sessionstats.Name+"/1"
		if has {
			bn.store.HasReceipt(ctx, api.user, endr)
		}
		if write {
			if err := stats.Run(ctx, ev, api); err != nil {
				b.Fatal(err)
			}
		}
		if end {
			bn.store.RecordReceipt(ctx, api.user, endr)
		}
	}
}

func BenchmarkPartHas(b *testing.B)       { benchParts(b, true, false, true) }
func BenchmarkPartWrite(b *testing.B)     { benchParts(b, false, true, true) }
func BenchmarkPartEnd(b *testing.B)       { benchParts(b, false, false, true) }
func BenchmarkPartAll(b *testing.B)       { benchParts(b, true, true, true) }
func BenchmarkPartWriteOnly(b *testing.B) { benchParts(b, false, true, false) }

func BenchmarkFlowLogoutFewUsers(b *testing.B) {
	newBench(b, 10).serial(b)
}
