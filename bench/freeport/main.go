// Command freeport asks the kernel for free loopback TCP ports and prints
// them one per line. All listeners are held open until every port is chosen,
// so the ports printed are distinct.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
)

func main() {
	n := flag.Int("n", 1, "how many ports")
	host := flag.String("host", "127.0.0.1", "address to bind")
	flag.Parse()

	lns := make([]net.Listener, 0, *n)
	for i := 0; i < *n; i++ {
		ln, err := net.Listen("tcp", net.JoinHostPort(*host, "0"))
		if err != nil {
			log.Fatalf("freeport: %v", err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		_ = ln.Close()
	}
}
