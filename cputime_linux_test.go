package clerkauth

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU is the calling thread's CPU time in ns (RUSAGE_THREAD).
func threadCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// reportCPU reports the CPU time of the benchmark loop per op, which other
// processes on a busy machine do not inflate as they do wall time. The loop
// runs on one locked thread; work of other threads (the GC) is not counted.
// Call it before b.ResetTimer and call the returned function after the loop.
func reportCPU(b *testing.B) func() {
	runtime.LockOSThread()
	start := threadCPU()
	return func() {
		b.ReportMetric(float64(threadCPU()-start)/float64(b.N), "cpu-ns/op")
		runtime.UnlockOSThread()
	}
}
