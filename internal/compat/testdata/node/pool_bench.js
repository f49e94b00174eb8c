// Sends COUNT copies of a raw message (read from stdin) to 127.0.0.1:PORT
// with nodemailer's pooled SMTP transport (pool: true, maxConnections,
// maxMessages), from CONCURRENCY concurrent senders, as the pool benchmark
// of internal/compat does with Postwire's Pool. MODE is "plain" or
// "starttls" (certificate not verified: the benchmark's server uses an
// ephemeral one). Prints one JSON line: messages sent, wall seconds and
// this process's CPU microseconds (user+system) spent sending.
//
// usage: node pool_bench.js PORT COUNT CONCURRENCY MODE MAXCONN MAXMSG < message
"use strict";
const fs = require("fs");
const nodemailer = require("nodemailer");

const [port, count, concurrency, mode, maxConnections, maxMessages] = process.argv.slice(2);
const raw = fs.readFileSync(0);
const starttls = mode === "starttls";

const transport = nodemailer.createTransport({
  host: "127.0.0.1",
  port: Number(port),
  secure: false,
  pool: true,
  maxConnections: Number(maxConnections),
  maxMessages: Number(maxMessages),
  name: "client.example",
  ignoreTLS: !starttls,
  requireTLS: starttls,
  tls: { rejectUnauthorized: false },
});

async function main() {
  let left = Number(count);
  let sent = 0;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  async function sender() {
    while (left > 0) {
      left--;
      await transport.sendMail({
        envelope: { from: "alice@client.example", to: ["bob@test.example"] },
        raw,
      });
      sent++;
    }
  }
  await Promise.all(Array.from({ length: Number(concurrency) }, sender));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  transport.close();
  console.log(JSON.stringify({ sent, seconds, cpu_us: cpu.user + cpu.system }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
