package flow_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/benbjohnson/clock"
	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/metadata"
	"github.com/logoutflow/logoutflow/metadata/memstore"
	"github.com/logoutflow/logoutflow/sessionstats"
)

type bapi struct {
	s   *memstore.Store
	sid string
}

func (a *bapi) Log(slog.Level, string, ...slog.Attr) {}
func (a *bapi) User() action.UserAPI                 { return a }
func (a *bapi) Session() action.SessionAPI           { return nil }
func (a *bapi) SetAppMetadata(ctx context.Context, p metadata.Map) error {
	return nil
}
func (a *bapi) UpdateAppMetadata(ctx context.Context, fn metadata.UpdateFunc) error {
	return a.s.Update(ctx, "u1", a.sid, fn)
}

func BenchmarkBaseline(b *testing.B) {
	clk := clock.NewMock()
	clk.Set(benchNow)
	store := memstore.New(memstore.Options{Clock: clk})
	store.Put(context.Background(), "u1", nil)
	act := sessionstats.New(sessionstats.Options{Clock: clk})
	ids := sessionIDs(b.N)
	ids2 := sessionIDs(b.N)
	for i := range ids2 {
		ids2[i] = "end/" + ids2[i]
	}
	ev := action.Event{User: action.User{ID: "u1", LastLoginAt: benchLogin}}
	ctx := context.Background()
	api := &bapi{s: store}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Session.ID = ids[i]
		api.sid = ids[i]
		store.HasReceipt(ctx, "u1", ids2[i])
		if err := act.Run(ctx, &ev, api); err != nil {
			b.Fatal(err)
		}
		store.Update(ctx, "u1", ids2[i], func(metadata.Map) (metadata.Map, error) { return nil, nil })
	}
}
