package main

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// tuneGC sets the collector for a stream processor unless the user set GOGC or GOMEMLIMIT:
// records are short-lived and the live heap is often small, so Go's default (collect when the
// heap doubles) runs the collector over a hundred times a second and its preemption costs
// 15-25% of the CPU. A heap target of 5x the live heap (GOGC=400) removes most of that, and a
// soft memory limit of 3/4 of the machine's memory keeps jobs with large state from growing past
// what the machine has: near the limit the collector runs as often as it must.
func tuneGC() {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetGCPercent(400)
	if total := totalMemory(); total > 0 {
		debug.SetMemoryLimit(total / 4 * 3)
	}
}

// totalMemory returns the machine's memory in bytes from /proc/meminfo, or 0 if unknown.
func totalMemory() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// MemTotal:       24596420 kB
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
