// A TCP proxy in front of the bench's server that holds every chunk `DELAY` ms in each direction:
// a link with a round trip of 2 x DELAY ms, as between an API and a database in the same region,
// so W6 shows what its round trips cost. Its own process: the bench times commands with
// spawnSync, which would freeze a proxy in the bench's event loop.
// Usage: node bench/slow-link.mjs <target host> <target port> <delay ms>; prints the port it
// listens on (loopback), then serves until killed.
import net from 'node:net'

const [host, port, delay] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])]
const server = net.createServer((client) => {
  const upstream = net.connect(port, host)
  // no Nagle on either side: a proxy that coalesces would add delays of its own
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  const hold = (from, to) => from.on('data', (chunk) => setTimeout(() => to.write(chunk), delay))
  hold(client, upstream)
  hold(upstream, client)
  for (const [a, b] of [[client, upstream], [upstream, client]]) {
    a.on('close', () => setTimeout(() => b.destroy(), delay))
    a.on('error', () => {})
  }
})
server.listen(0, '127.0.0.1', () => process.stdout.write(`${server.address().port}\n`))
