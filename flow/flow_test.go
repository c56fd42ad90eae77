package flow_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/logoutflow/logoutflow/action"
	"github.com/logoutflow/logoutflow/flow"
)

func TestNewRefusesInvalidFlows(t *testing.T) {
	once := counter("once")
	once.Once = true
	reg, err := action.NewRegistry(
		counter("count"),
		once,
		action.Action{
			Name:     "on-expiry",
			Triggers: []action.Trigger{action.Expire},
			Run:      counter("x").Run,
		},
	)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	run := func(name string) flow.Block {
		return flow.RunCustomAction{Action: name}
	}
	revoke := flow.RevokeSession{}

	tests := []struct {
		name    string
		trigger action.Trigger
		reg     *action.Registry
		blocks  []flow.Block
		want    []string // in the error's text
	}{
		{name: "empty flow", blocks: nil, want: []string{"no blocks"}},
		{
			name:   "no RevokeSession",
			blocks: []flow.Block{run("count")},
			want:   []string{"block 1", `"count"`, "last block"},
		},
		{
			name:   "two RevokeSession",
			blocks: []flow.Block{run("count"), revoke, revoke},
			want:   []string{"block 2", "RevokeSession", "once"},
		},
		{
			name:   "RevokeSession not last",
			blocks: []flow.Block{revoke, run("count")},
			want:   []string{"block 1", "RevokeSession", "last block"},
		},
		{
			name:   "unknown action",
			blocks: []flow.Block{run("count"), run("nope"), revoke},
			want:   []string{"block 2", `"nope"`, "not registered"},
		},
		{
			name:   "action of another trigger",
			blocks: []flow.Block{run("on-expiry"), revoke},
			want:   []string{"block 1", `"on-expiry"`, `"logout"`},
		},
		{
			name: "an action that runs once, twice",
			blocks: []flow.Block{run("once"), run("count"), run("once"),
				revoke},
			want: []string{"block 3", `"once"`, "block 1"},
		},
		{
			name:   "nil block",
			blocks: []flow.Block{nil, revoke},
			want:   []string{"block 1", "nil"},
		},
		{
			name:   "pointer to RunCustomAction",
			blocks: []flow.Block{&flow.RunCustomAction{Action: "count"}, revoke},
			want:   []string{"block 1", "pointer"},
		},
		{
			name:   "pointer to RevokeSession",
			blocks: []flow.Block{&flow.RevokeSession{}},
			want:   []string{"block 1", "pointer"},
		},
		{
			name:    "no trigger",
			trigger: "-",
			blocks:  []flow.Block{revoke},
			want:    []string{"no trigger"},
		},
		{
			name:    "a trigger that ends no session",
			trigger: "login",
			blocks:  []flow.Block{revoke},
			want:    []string{`"login"`, "ends no session"},
		},
		{
			name:   "empty registry",
			reg:    new(action.Registry),
			blocks: []flow.Block{run("count"), revoke},
			want:   []string{"block 1", `"count"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trigger, r := tc.trigger, tc.reg
			switch trigger {
			case "":
				trigger = action.Logout
			case "-":
				trigger = ""
			}
			if r == nil {
				r = reg
			}
			f, err := flow.New(trigger, r, tc.blocks...)
			if !errors.Is(err, flow.ErrInvalidFlow) {
				t.Fatalf("New() = %v, %v; want an error wrapping "+
					"ErrInvalidFlow", f, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New() error %q does not hold %q", err, w)
				}
			}
		})
	}
}

func TestNewKeepsItsBlocks(t *testing.T) {
	reg, err := action.NewRegistry(counter("count"))
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	blocks := []flow.Block{
		flow.RunCustomAction{Action: "count"}, flow.RevokeSession{},
	}
	f := flow.Must(action.Logout, reg, blocks...)

	// The flow keeps a copy: changing the caller's slice changes nothing.
	want := append([]flow.Block(nil), blocks...)
	blocks[0] = flow.RevokeSession{}
	if diff := cmp.Diff(want, f.Blocks()); diff != "" {
		t.Errorf("Blocks() mismatch (-want +got):\n%s", diff)
	}
	if got := f.Trigger(); got != action.Logout {
		t.Errorf("Trigger() = %q, want %q", got, action.Logout)
	}
}

func TestMustPanicsOnInvalidFlow(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Must(no blocks) did not panic")
		}
	}()
	flow.Must(action.Logout, nil)
}

func TestPublishRefusesUnbuiltFlows(t *testing.T) {
	fx := setup(t, flow.Options{})
	for _, f := range []*flow.Flow{nil, new(flow.Flow)} {
		if _, err := fx.runner.Publish(f); !errors.Is(err, flow.ErrInvalidFlow) {
			t.Errorf("Publish(%v) = %v, want ErrInvalidFlow", f, err)
		}
	}
}

func TestNewRunnerRequiresStoreAndRevoker(t *testing.T) {
	fx := setup(t, flow.Options{})
	tests := []struct {
		name string
		opts flow.Options
		want error
	}{
		{"no store", flow.Options{Revoker: fx.rev}, flow.ErrNoStore},
		{"no revoker", flow.Options{Store: fx.store}, flow.ErrNoRevoker},
		{"nil RevokerFunc", flow.Options{Store: fx.store,
			Revoker: flow.RevokerFunc(nil)}, flow.ErrNoRevoker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := flow.NewRunner(tc.opts)
			if !errors.Is(err, tc.want) || r != nil {
				t.Errorf("NewRunner() = %v, %v; want nil, %v", r, err, tc.want)
			}
		})
	}
}

func TestPublishNumbersVersions(t *testing.T) {
	fx := setup(t, flow.Options{}, counter("count"))
	for want := 1; want <= 3; want++ {
		if got := fx.publish(t, "count"); got != want {
			t.Errorf("Publish() = %d, want %d", got, want)
		}
	}
}
