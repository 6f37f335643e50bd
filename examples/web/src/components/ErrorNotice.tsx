import type { CombinedError } from '@urql/core';
import { problemsOf } from '../errors.ts';

export function ErrorNotice({ error }: { error: CombinedError | undefined }) {
  if (!error) return null;
  return (
    <div role="alert" className="error">
      {problemsOf(error).map((problem, index) => (
        <p key={index} data-code={problem.code}>
          <code>{problem.code}</code> {problem.summary}
          {problem.retryAfter !== undefined && ` Try again in ${problem.retryAfter} s.`}
          <span className="detail">{problem.detail}</span>
        </p>
      ))}
    </div>
  );
}
