package pgstore_test

import (
	"os"
	osexec "os/exec"
	"strings"
	"testing"
)

// envChild marks the test binary run by TestConnectWithoutServer.
const envChild = "PGSTORE_TEST_CONNECT_CHILD"

// TestConnectWithoutServer points the tests at a port where no server
// listens, in a child process: they skip with the reason, or fail when
// envRequire is 1, as CI sets it.
func TestConnectWithoutServer(t *testing.T) {
	if os.Getenv(envChild) == "1" {
		connect(t, nil)
		t.Fatal("connect returned without a server")
	}

	tests := []struct {
		name     string
		require  string
		want     string // in the child's output
		wantFail bool
	}{
		{"skips", "", "--- SKIP: TestConnectWithoutServer", false},
		{"fails when required", "1", "--- FAIL: TestConnectWithoutServer",
			true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := osexec.Command(os.Args[0], "-test.v",
				"-test.run=^TestConnectWithoutServer$")
			cmd.Env = append(os.Environ(), envChild+"=1",
				envDSN+"=postgres://postgres@127.0.0.1:1/test"+
					"?sslmode=disable&connect_timeout=5",
				envRequire+"="+tc.require)
			out, err := cmd.CombinedOutput()
			if failed := err != nil; failed != tc.wantFail {
				t.Errorf("child failed = %t (%v), want %t", failed, err,
					tc.wantFail)
			}
			for _, want := range []string{tc.want,
				"no PostgreSQL at postgres@127.0.0.1:1/test (" + envDSN +
					"): "} {
				if !strings.Contains(string(out), want) {
					t.Errorf("child output lacks %q:\n%s", want, out)
				}
			}
		})
	}
}
