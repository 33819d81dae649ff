// PostGraphile 5, the peer of `python -m bench race`: the amber preset over the race schema of the bench
// database (schema.sql), one Node process. The race passes the database and the port in the environment.
import { makePgService } from "postgraphile/adaptors/pg";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";

/** @type {GraphileConfig.Preset} */
const preset = {
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: process.env.RACE_DATABASE_URL,
      schemas: ["race"],
    }),
  ],
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.RACE_PORT ?? 5678),
    // As a production deployment runs it: no IDE, no schema watching, no explain.
    graphiql: false,
    watch: false,
  },
  grafast: {
    explain: false,
  },
};

export default preset;
