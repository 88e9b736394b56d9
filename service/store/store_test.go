package store_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/runnel-io/runnel/service/store"
)

func TestBolt(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Update(func(tx store.Tx) error {
		for _, k := range []string{"apps/b", "apps/a", "ops/a/1", "apps/c"} {
			if err := tx.Put(k, []byte("v-"+k)); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A failed transaction changes nothing.
	boom := errors.New("boom")
	if err := st.Update(func(tx store.Tx) error {
		_ = tx.Put("apps/d", []byte("x"))
		_ = tx.Delete("apps/a")
		return boom
	}); !errors.Is(err, boom) {
		t.Fatalf("Update = %v", err)
	}
	err = st.View(func(tx store.Tx) error {
		var keys []string
		for k, v := range tx.Scan("apps/") {
			if string(v) != "v-"+k {
				t.Errorf("%s = %q", k, v)
			}
			keys = append(keys, k)
		}
		if fmt.Sprint(keys) != "[apps/a apps/b apps/c]" {
			t.Errorf("Scan(apps/) = %v", keys)
		}
		if _, err := tx.Get("apps/d"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of a key a failed transaction wrote: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Open(st.Dir()); err == nil {
		t.Error("a second Open of the same directory succeeded")
	}
}

// TestBoltSurvivesKill kills a process writing transactions at random moments: every reopen
// finds each transaction applied whole or not at all (two keys written together always agree)
// and the counter never goes back.
func TestBoltSurvivesKill(t *testing.T) {
	if dir := os.Getenv("RUNNEL_STORE_CHILD"); dir != "" {
		st, err := store.Open(dir)
		if err != nil {
			os.Exit(3)
		}
		for i := 0; ; i++ {
			err := st.Update(func(tx store.Tx) error {
				b, _ := tx.Get("n")
				n, _ := strconv.Atoi(string(b))
				n++
				v := []byte(strconv.Itoa(n))
				if err := tx.Put("n", v); err != nil {
					return err
				}
				// A bigger value too, so transactions span several pages.
				return tx.Put(fmt.Sprintf("pad/%d", n%50), append(v, make([]byte, 3000)...))
			})
			if err != nil {
				os.Exit(4)
			}
			if i == 10 {
				fmt.Println("writing")
			}
		}
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	last := 0
	for round := range 8 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestBoltSurvivesKill$")
		cmd.Env = append(os.Environ(), "RUNNEL_STORE_CHILD="+dir)
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		sc.Scan()                                                  // "writing": it has the file and commits
		time.Sleep(time.Duration(rng.IntN(50)) * time.Millisecond) // a random moment of its writing, not a synchronization
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		st, err := store.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopening after kill -9: %v", round, err)
		}
		err = st.View(func(tx store.Tx) error {
			b, err := tx.Get("n")
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(string(b))
			if n < last {
				return fmt.Errorf("the counter went back from %d to %d", last, n)
			}
			pad, err := tx.Get(fmt.Sprintf("pad/%d", n%50))
			if err != nil || string(pad[:len(b)]) != string(b) {
				return fmt.Errorf("the pad written with %d holds %q: a half-applied transaction", n, pad[:min(len(pad), 8)])
			}
			last = n
			return nil
		})
		st.Close()
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	t.Logf("%d transactions survived 8 kills", last)
}
