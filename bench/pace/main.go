// Command pace sends POSTs at a fixed, light rate (open loop: request i is
// due at start + i/rate, whatever the previous one took) for a duration, so
// that the delivery benchmark can measure latency while the queue is not
// backed up. wrk cannot pace its requests.
//
//	pace -url http://127.0.0.1:8080/api/orders -rate 200 -duration 20s -body '{...}'
//
// It prints one line: "sent N ok N non2xx N errors N elapsed_s F rate F" and
// exits 1 if any request failed or answered other than 2xx, or if it fell
// more than a second behind the schedule (the generator could not keep up).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	url := flag.String("url", "", "target URL (required)")
	rate := flag.Float64("rate", 200, "requests per second")
	duration := flag.Duration("duration", 20*time.Second, "how long to send")
	body := flag.String("body", "{}", "request body (JSON)")
	conns := flag.Int("c", 4, "concurrent senders (a slow response does not delay the next due request)")
	flag.Parse()
	if *url == "" || *rate <= 0 || *conns < 1 {
		flag.Usage()
		os.Exit(2)
	}

	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conns, DisableCompression: true},
	}
	var sent, ok, non2xx, failed atomic.Int64
	var firstErr atomic.Value
	interval := time.Duration(float64(time.Second) / *rate)
	start := time.Now()
	end := start.Add(*duration)
	due := make(chan struct{}, *conns)
	var wg sync.WaitGroup
	for range *conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range due {
				sent.Add(1)
				resp, err := client.Post(*url, "application/json", bytes.NewReader([]byte(*body)))
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 200 || resp.StatusCode > 299 {
					non2xx.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("status %d", resp.StatusCode))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	var maxLag time.Duration
	for i := 0; ; i++ {
		at := start.Add(time.Duration(i) * interval)
		if !at.Before(end) {
			break
		}
		if d := time.Until(at); d > 0 {
			time.Sleep(d)
		} else if -d > maxLag {
			maxLag = -d
		}
		due <- struct{}{} // blocks when every sender is busy: the lag shows it
	}
	close(due)
	wg.Wait()
	elapsed := time.Since(start)
	fmt.Printf("sent %d ok %d non2xx %d errors %d elapsed_s %.2f rate %.1f max_lag_ms %d\n",
		sent.Load(), ok.Load(), non2xx.Load(), failed.Load(), elapsed.Seconds(),
		float64(sent.Load())/elapsed.Seconds(), maxLag.Milliseconds())
	bad := false
	if non2xx.Load() > 0 || failed.Load() > 0 {
		log.Printf("pace: %d non-2xx, %d errors; first: %v", non2xx.Load(), failed.Load(), firstErr.Load())
		bad = true
	}
	if maxLag > time.Second {
		log.Printf("pace: fell %v behind the schedule", maxLag)
		bad = true
	}
	if bad {
		os.Exit(1)
	}
}
