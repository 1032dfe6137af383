/** CloudFormation Query protocol, DescribeStacks only, with statuses set by tests. */
import * as crypto from 'node:crypto';
import { err } from './errors';

interface Stack {
  name: string;
  stackId: string;
  status: string;
  reason?: string;
  creationTime: number;
}

export const CFN_XMLNS = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';

export class Stacks {
  private readonly stacks = new Map<string, Stack>();
  private readonly removed = new Set<string>();

  constructor(private readonly now: () => number, private readonly region: string, private readonly accountId: string) {}

  private lookup(nameOrId: string): Stack | undefined {
    return this.stacks.get(nameOrId) ?? [...this.stacks.values()].find((s) => s.stackId === nameOrId);
  }

  private ensure(nameOrId: string): Stack {
    const found = this.lookup(nameOrId);
    if (found) return found;
    const arn = /^arn:aws[a-z-]*:cloudformation:[^:]+:\d+:stack\/([^/]+)\//.exec(nameOrId);
    const name = arn ? arn[1] : nameOrId;
    const stack: Stack = {
      name,
      stackId: arn ? nameOrId : `arn:aws:cloudformation:${this.region}:${this.accountId}:stack/${name}/${crypto.randomUUID()}`,
      status: 'CREATE_COMPLETE',
      creationTime: this.now(),
    };
    this.stacks.set(name, stack);
    return stack;
  }

  /** Unknown stacks are created on the fly with this status. Returns the stack id (ARN). */
  public setStatus(nameOrId: string, status: string, reason?: string): string {
    this.removed.delete(nameOrId);
    const stack = this.ensure(nameOrId);
    this.removed.delete(stack.name);
    this.removed.delete(stack.stackId);
    stack.status = status;
    stack.reason = reason;
    return stack.stackId;
  }

  /** Make DescribeStacks answer "Stack with id X does not exist" for this stack. */
  public remove(nameOrId: string): void {
    const stack = this.lookup(nameOrId);
    this.removed.add(nameOrId);
    if (stack) {
      this.removed.add(stack.name);
      this.removed.add(stack.stackId);
      this.stacks.delete(stack.name);
    }
  }

  /** Returns the XML body of a successful DescribeStacks. */
  public describeStacks(params: URLSearchParams, requestId: string): string {
    const name = params.get('StackName') ?? undefined;
    let list: Stack[];
    if (name !== undefined) {
      if (this.removed.has(name)) throw err('ValidationError', `Stack with id ${name} does not exist`);
      list = [this.ensure(name)];
    } else {
      list = [...this.stacks.values()];
    }
    const members = list.map((s) => [
      '<member>',
      `<StackId>${xml(s.stackId)}</StackId>`,
      `<StackName>${xml(s.name)}</StackName>`,
      `<CreationTime>${new Date(s.creationTime).toISOString()}</CreationTime>`,
      `<StackStatus>${xml(s.status)}</StackStatus>`,
      s.reason !== undefined ? `<StackStatusReason>${xml(s.reason)}</StackStatusReason>` : '',
      '</member>',
    ].join('')).join('');
    return `<DescribeStacksResponse xmlns="${CFN_XMLNS}"><DescribeStacksResult><Stacks>${members}</Stacks></DescribeStacksResult>`
      + `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></DescribeStacksResponse>`;
  }

  public dump(): Record<string, string> {
    return Object.fromEntries([...this.stacks.values()].map((s) => [s.name, s.status]));
  }
}

export function errorXml(code: string, message: string, requestId: string, sender: boolean): string {
  return `<ErrorResponse xmlns="${CFN_XMLNS}"><Error><Type>${sender ? 'Sender' : 'Receiver'}</Type><Code>${xml(code)}</Code>`
    + `<Message>${xml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}
