/**
 * Evaluates CloudFormation intrinsic functions in a synthesized template for given parameter values, the way
 * CloudFormation does at deploy time, for the functions this template uses. Lets the tests check what a
 * deployment would do with each combination of parameters (conditions, rules, the API key's value), not only
 * the template's text. Unsupported functions throw.
 */
export const NO_VALUE = Symbol('AWS::NoValue')

export interface Deployment {
  template: Record<string, any>
  /** Parameter values given by the user; the template's defaults fill the rest. */
  parameters: Record<string, string>
  /** What `Ref` returns for a resource, by logical id (e.g. an event bus's name). */
  refs?: Record<string, string>
}

export function parameterValues ({ template, parameters }: Deployment): Record<string, string> {
  const values: Record<string, string> = {}
  for (const [name, declared] of Object.entries<any>(template.Parameters)) {
    const value = parameters[name] ?? declared.Default
    if (value === undefined) throw new Error(`parameter ${name} has no value and no default`)
    values[name] = String(value)
  }
  const unknown = Object.keys(parameters).filter(name => !(name in values))
  if (unknown.length > 0) throw new Error(`unknown parameters: ${unknown.join(', ')}`)
  return values
}

export function evaluate (node: unknown, deployment: Deployment): unknown {
  const values = parameterValues(deployment)
  const condition = (name: string): boolean => {
    const expression = deployment.template.Conditions?.[name]
    if (expression === undefined) throw new Error(`unknown condition ${name}`)
    return asBoolean(visit(expression))
  }
  const asBoolean = (value: unknown): boolean => {
    if (typeof value !== 'boolean') throw new Error(`expected a boolean, got ${JSON.stringify(value)}`)
    return value
  }
  const visit = (n: unknown): unknown => {
    if (Array.isArray(n)) return n.map(visit).filter(v => v !== NO_VALUE)
    if (n === null || typeof n !== 'object') return n
    const entries = Object.entries(n)
    const [key, arg] = entries[0] ?? []
    if (entries.length !== 1 || !(key === 'Ref' || key === 'Condition' || key.startsWith('Fn::'))) {
      return Object.fromEntries(entries.map(([k, v]) => [k, visit(v)]).filter(([, v]) => v !== NO_VALUE))
    }
    const args = arg as any[]
    switch (key) {
      case 'Ref':
        if (arg === 'AWS::NoValue') return NO_VALUE
        if (typeof arg === 'string' && arg in values) return values[arg]
        if (typeof arg === 'string' && deployment.refs?.[arg] !== undefined) return deployment.refs[arg]
        throw new Error(`Ref ${String(arg)}: no value given`)
      case 'Condition': return condition(arg as string)
      case 'Fn::GetAtt': return `${args[0] as string}.${args[1] as string}`
      case 'Fn::Join': return (visit(args[1]) as unknown[]).join(args[0])
      case 'Fn::If': return condition(args[0]) ? visit(args[1]) : visit(args[2])
      case 'Fn::Equals': return visit(args[0]) === visit(args[1])
      case 'Fn::Not': return !asBoolean(visit(args[0]))
      case 'Fn::And': return args.every(a => asBoolean(visit(a)))
      case 'Fn::Or': return args.some(a => asBoolean(visit(a)))
      default: throw new Error(`unsupported intrinsic function ${key}`)
    }
  }
  return visit(node)
}

/** Whether a condition of the template holds for the deployment's parameters. */
export function conditionHolds (name: string, deployment: Deployment): boolean {
  return evaluate({ Condition: name }, deployment) as boolean
}

/** The template's Rules whose assertions fail for the deployment's parameters (CloudFormation then refuses it). */
export function failedRules (deployment: Deployment): string[] {
  return Object.entries<any>(deployment.template.Rules ?? {})
    .filter(([, rule]) => !rule.Assertions.every((a: any) => evaluate(a.Assert, deployment) === true))
    .map(([name]) => name)
}
