// The graphile-worker peer of bench/job_queue_bench.cpp: no-op jobs completed per second.
// Usage: node bench.mjs CONNECTION_STRING [JOBS] [SETTING]
//   SETTING  c4          concurrentJobs 4, graphile-worker's defaults otherwise (one job per fetch,
//                        one completion per statement)
//            c4-batched  concurrentJobs 4 with graphile-worker's batching: localQueue of 256 jobs
//                        (job_queue_bench claims 256 per statement) and completeJobBatchDelay 0
//            perf        the setting of graphile-worker's performance page: concurrentJobs 24,
//                        maxPoolSize 25, localQueue 500, completeJobBatchDelay 0, failJobBatchDelay 0
// Like job_queue_bench: the jobs are enqueued first (addJobs, 1,000 per call), then the clock runs
// from starting the worker until every job's completion is committed (graphile-worker deletes a
// job's row when it completes, so: until the jobs table is empty). Each setting gets its own schema,
// so one run's dead rows do not slow the next. The last line ends in "= N jobs/s" for bench/run.sh.
import gw from "graphile-worker";

const { run, makeWorkerUtils, Logger } = gw;

const SETTINGS = {
  c4: { concurrentJobs: 4 },
  "c4-batched": { concurrentJobs: 4, localQueue: { size: 256 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
  perf: { concurrentJobs: 24, maxPoolSize: 25, localQueue: { size: 500 }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
};

const [connectionString, jobsArg, settingArg] = process.argv.slice(2);
const total = Number(jobsArg ?? 20000);
const settingName = settingArg ?? "c4";
const setting = SETTINGS[settingName];
if (!connectionString || !Number.isInteger(total) || total < 1 || !setting) {
  console.error(`usage: node bench.mjs CONNECTION_STRING [JOBS] [${Object.keys(SETTINGS).join("|")}]`);
  process.exit(2);
}

// Errors only, as job_queue_bench runs its queue with LogLevel::error.
const logger = new Logger(() => (level, message) => {
  if (level === "error") console.error(`graphile-worker: ${message}`);
});
const schema = `bench_${settingName.replace(/[^a-z0-9]/g, "_")}`;
const preset = { worker: { connectionString, schema, logger, pollInterval: 2000, ...setting } };

const utils = await makeWorkerUtils({ preset });
try {
  await utils.migrate();
  const jobsTable = `${schema}._private_jobs`;
  await utils.withPgClient((c) => c.query(`DELETE FROM ${jobsTable}`));
  for (let done = 0; done < total; done += 1000) {
    const n = Math.min(1000, total - done);
    await utils.addJobs(Array.from({ length: n }, () => ({ identifier: "noop", payload: {} })));
  }
  const remaining = async () =>
    Number((await utils.withPgClient((c) => c.query(`SELECT count(*) AS n FROM ${jobsTable}`))).rows[0].n);

  let ran = 0;
  const start = process.hrtime.bigint();
  const runner = await run({
    preset,
    noHandleSignals: true,
    taskList: {
      noop: () => {
        ran++;
      },
    },
  });
  // Handlers ran: wait for their completions to be committed (polled every 5 ms, as
  // job_queue_bench polls its completed() counter).
  while (ran < total) await new Promise((r) => setTimeout(r, 5));
  while ((await remaining()) > 0) await new Promise((r) => setTimeout(r, 5));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  await runner.stop();
  const c = setting.concurrentJobs;
  console.log(
    `graphile-worker ${settingName} (concurrency ${c}): ${total} no-op jobs in ${secs.toFixed(3)} s` +
      ` (handler runs: ${ran}) = ${Math.floor(total / secs)} jobs/s`,
  );
  process.exitCode = ran >= total ? 0 : 1;
} finally {
  await utils.release();
}
