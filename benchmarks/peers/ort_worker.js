// Peer-benchmark worker for ONNX Runtime (onnxruntime-node, CPU execution provider).
// Line protocol of peer_bench.py:
//   load MODEL_NAME MODEL.onnx INPUT BATCH SIDE THREADS -> ok | error <message>
//   run K -> K latencies in ms;  dump PATH -> ok;  quit
'use strict';

const fs = require('fs');
const readline = require('readline');
const ort = require('onnxruntime-node');

let session = null;
let feeds = null;
let last = null;

async function handle(line) {
  const args = line.trim().split(/\s+/);
  const op = args[0];
  if (op === 'load') {
    const [, , modelPath, inputPath, batchText, sideText, threadsText] = args;
    const batch = Number(batchText), side = Number(sideText), threads = Number(threadsText);
    // One intra-op pool of T threads, no inter-op parallelism: the same budget as the others.
    const options = {
      executionProviders: ['cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    // peer_bench.py --no-spin: idle pool threads sleep instead of spinning (an oversubscribed machine).
    if (process.env.PEER_NO_SPIN === '1') {
      options.extra = {session: {intra_op: {allow_spinning: '0'}, inter_op: {allow_spinning: '0'}}};
    }
    session = await ort.InferenceSession.create(modelPath, options);
    const bytes = fs.readFileSync(inputPath);
    const data = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    feeds = {[session.inputNames[0]]: new ort.Tensor('float32', data, [batch, 3, side, side])};
    return 'ok';
  }
  if (op === 'run') {
    const k = Number(args[1]);
    const times = [];
    for (let i = 0; i < k; ++i) {
      const t0 = process.hrtime.bigint();
      last = await session.run(feeds);
      const t1 = process.hrtime.bigint();
      times.push(Number(t1 - t0) / 1e6);
    }
    return times.join(' ');
  }
  if (op === 'dump') {
    const out = last[session.outputNames[0]].data;
    fs.writeFileSync(args[1], Buffer.from(out.buffer, out.byteOffset, out.byteLength));
    return 'ok';
  }
  if (op === 'quit') process.exit(0);
  return `error unknown command '${op}'`;
}

async function main() {
  console.log(`ready onnxruntime ${ort.env.versions.node || ort.env.versions.common}`);
  const rl = readline.createInterface({input: process.stdin, terminal: false});
  for await (const line of rl) {
    let reply;
    try {
      reply = await handle(line);
    } catch (e) {
      reply = `error ${String(e && e.message ? e.message : e).replace(/\n/g, ' ')}`;
    }
    console.log(reply);
  }
}

main();
