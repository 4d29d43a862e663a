/**
 * Dockerfile lint: the syntax diagnostics of `dockerfile-utils` (the validator behind the VS
 * Code Docker language server) plus the image rules of this project, over the instructions as
 * parsed by `dockerfile-ast`:
 *
 * - every base image pinned to a tag other than latest (or a digest), no variables in FROM;
 * - the final stage ends with a non-root USER (numeric uid or a name other than root);
 * - the final stage has an ENTRYPOINT;
 * - ADD is not used (no URLs, no implicit extraction): COPY or a checked download;
 * - apt-get install with --no-install-recommends, and the package lists removed in the same RUN;
 * - no `curl | sh`, no sudo, WORKDIR absolute, COPY --from names an earlier stage;
 * - no credentials in ENV or ARG.
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate as dockerfileUtilsValidate } from 'dockerfile-utils';

const SECRET_NAME = /(SECRET|PASSWORD|PASSWD|TOKEN|ACCESS_KEY)/i;

export function dockerfileErrors(file: string, root: string): string[] {
  const label = relative(root, file);
  const text = readFileSync(file, 'utf8');
  const errors: string[] = [];
  const at = (i: Instruction | number, msg: string): void => {
    const line = typeof i === 'number' ? i : i.getRange().start.line + 1;
    errors.push(`${label}:${line}: ${msg}`);
  };

  for (const d of dockerfileUtilsValidate(text)) {
    at(d.range.start.line + 1, `${d.message} (dockerfile-utils)`);
  }

  const df = DockerfileParser.parse(text);
  const instructions = df.getInstructions();
  const stages: string[] = [];
  let finalStageStart = -1;
  instructions.forEach((ins, idx) => {
    if (ins.getKeyword() === 'FROM') finalStageStart = idx;
  });
  if (finalStageStart < 0) return [...errors, `${label}: no FROM`];

  for (const from of df.getFROMs()) {
    const image = from.getImage() ?? '';
    const name = from.getImageName() ?? '';
    const stage = from.getBuildStage();
    if (image.includes('$')) at(from, `FROM ${image}: no variables in base images (pin them literally)`);
    else if (image !== 'scratch' && !stages.includes(name)) {
      const tag = from.getImageTag();
      const digest = from.getImageDigest();
      if (digest === null && (tag === null || tag === 'latest')) at(from, `FROM ${image}: pin the base image to a tag other than latest, or a digest`);
    }
    if (stage !== null) stages.push(stage);
  }

  const finalStage = instructions.slice(finalStageStart);
  const users = finalStage.filter((i) => i.getKeyword() === 'USER');
  const lastUser = users[users.length - 1];
  if (lastUser === undefined) at(instructions[finalStageStart]!, 'final stage has no USER: the image would run as root');
  else {
    const user = (lastUser.getArgumentsContent() ?? '').trim().split(':')[0] ?? '';
    if (user === '' || user === 'root' || user === '0') at(lastUser, `final USER ${user || '(empty)'} is root`);
  }
  if (!finalStage.some((i) => i.getKeyword() === 'ENTRYPOINT')) at(instructions[finalStageStart]!, 'final stage has no ENTRYPOINT');

  for (const ins of instructions) {
    const kw = ins.getKeyword();
    const args = ins.getArgumentsContent() ?? '';
    if (kw === 'ADD') {
      at(ins, /(^|\s)(https?:\/\/|git@)/.test(args) ? 'ADD of a URL: download with a checked RUN or a build stage instead' : 'use COPY instead of ADD');
    }
    if (kw === 'RUN') {
      const flat = args.replace(/\\\r?\n/g, ' ');
      if (/apt-get\s+(-\S+\s+)*install/.test(flat)) {
        if (!flat.includes('--no-install-recommends')) at(ins, 'apt-get install without --no-install-recommends');
        if (!/rm\s+-rf\s+\/var\/lib\/apt\/lists/.test(flat)) at(ins, 'apt-get install without removing /var/lib/apt/lists in the same RUN');
      }
      if (/(curl|wget)[^|;&]*\|\s*(ba|z)?sh\b/.test(flat)) at(ins, 'piping a download into a shell');
      if (/(^|[\s;&|])sudo\s/.test(flat)) at(ins, 'sudo in RUN');
    }
    if (kw === 'WORKDIR' && !args.trim().startsWith('/') && !args.trim().startsWith('$')) at(ins, `WORKDIR ${args.trim()} is not absolute`);
    if (kw === 'COPY') {
      const m = /--from=(\S+)/.exec(args);
      if (m && !stages.includes(m[1]!) && !/^[^:]+:[^:]+$/.test(m[1]!) && !/^\d+$/.test(m[1]!)) at(ins, `COPY --from=${m[1]} names no earlier stage`);
    }
    if (kw === 'ENV' || kw === 'ARG') {
      for (const a of ins.getArguments()) {
        const key = a.getValue().split('=')[0] ?? '';
        if (SECRET_NAME.test(key)) at(ins, `${kw} ${key}: credentials do not belong in an image`);
      }
    }
  }
  return errors;
}
