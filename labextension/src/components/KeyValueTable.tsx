/** A two-column table of keys and their values, as text (the run page and its provenance). */
import * as React from 'react';

/** A two-column table of keys and their values. */
export function KeyValueTable(props: { entries: Array<[string, string]> }): JSX.Element {
  return (
    <table className="mlnb-kv">
      <tbody>
        {props.entries.map(([key, value]) => (
          <tr key={key}>
            <th>{key}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
