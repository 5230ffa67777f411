import { Alert, Anchor, Badge, Button, Grid, Group, List, Paper, Stack, Text, Textarea, Title, UnstyledButton } from '@mantine/core';
import { IconPlayerPlay } from '@tabler/icons-react';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Link, useLocation, useNavigate } from 'react-router-dom';
import { useClient, useMutation } from 'urql';
import { asHubError } from '../api/client';
import { EXAMPLE_SEARCH, START_THRESHOLD_SEARCH, VALIDATE_THRESHOLD_SEARCH } from '../api/thresholds';
import type { HubError } from '../api/types';
import type { ValidationIssue } from '../api/workflows';
import { useCan } from '../auth';
import { ErrorAlert } from '../components/ErrorText';
import { lineOf, parseYaml } from '../yamlPaths';

type Located = ValidationIssue & { line: number | null };

/** Paste or edit a ThresholdSearch document; the hub's own checks run as you type (the tools'
 * checks at both ends of the range included), each issue on its path and line; then start. */
export function NewThresholdSearchPage() {
  const navigate = useNavigate();
  const client = useClient();
  const canOperate = useCan('operator');
  const location = useLocation();
  const initial = (location.state as { yaml?: string } | null)?.yaml ?? EXAMPLE_SEARCH;
  const [text, setText] = useState(initial);
  const [issues, setIssues] = useState<ValidationIssue[]>([]);
  const [validatedFor, setValidatedFor] = useState('');
  const [hubError, setHubError] = useState<HubError | null>(null);
  const [{ fetching: starting }, start] = useMutation(START_THRESHOLD_SEARCH);
  const area = useRef<HTMLTextAreaElement>(null);

  const parsed = useMemo(() => parseYaml(text), [text]);
  const notMapping = !parsed.error && (!parsed.value || typeof parsed.value !== 'object' || Array.isArray(parsed.value));
  const sent = parsed.error || notMapping ? '' : JSON.stringify(parsed.value);

  useEffect(() => {
    if (!sent || !canOperate) return;
    let live = true;
    const timer = window.setTimeout(async () => {
      const res = await client.query(VALIDATE_THRESHOLD_SEARCH, { document: JSON.parse(sent) }, { requestPolicy: 'network-only' }).toPromise();
      if (!live) return;
      if (res.data) {
        setIssues(res.data.validateThresholdSearch as ValidationIssue[]);
        setValidatedFor(sent);
      } else if (res.error) {
        setIssues([{ field: [], message: res.error.message, code: 'error' }]);
        setValidatedFor(sent);
      }
    }, 400);
    return () => {
      live = false;
      window.clearTimeout(timer);
    };
  }, [sent, client, canOperate]);

  const current = !!sent && validatedFor === sent;
  const located: Located[] = useMemo(
    () => (current && parsed.doc ? issues.map((i) => ({ ...i, line: lineOf(parsed.doc!, text, i.field) })) : []),
    [current, issues, parsed.doc, text],
  );
  const blocked = !current || issues.length > 0;

  const goTo = (line: number | null) => {
    const el = area.current;
    if (!el || line == null) return;
    const lines = text.split('\n');
    const startAt = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    el.focus();
    el.setSelectionRange(startAt, startAt + (lines[line - 1]?.length ?? 0));
  };

  const onStart = async () => {
    setHubError(null);
    const res = await start({ input: { document: JSON.parse(sent) } });
    const answer = res.data?.startThresholdSearch;
    const err = asHubError(answer);
    if (err) return setHubError(err);
    if (answer?.id) navigate(`/threshold-searches/${answer.id}`);
    else if (res.error) setHubError({ __typename: 'local', code: 'error', message: res.error.message, field: [] });
  };

  const status = parsed.error ? (
    <Badge color="red" data-testid="validity">
      not YAML
    </Badge>
  ) : notMapping ? (
    <Badge color="red" data-testid="validity">
      not a document
    </Badge>
  ) : !current ? (
    <Badge color="gray" variant="light" data-testid="validity">
      checking…
    </Badge>
  ) : issues.length ? (
    <Badge color="red" data-testid="validity">
      {issues.length} issue{issues.length === 1 ? '' : 's'}
    </Badge>
  ) : (
    <Badge color="green" data-testid="validity">
      valid
    </Badge>
  );

  return (
    <Stack data-testid="new-threshold-search">
      <div>
        <Anchor component={Link} to="/threshold-searches" size="sm">
          ← Threshold searches
        </Anchor>
        <Group gap="xs">
          <Title order={2}>New threshold search</Title>
          {canOperate && status}
        </Group>
        <Text c="dimmed" size="sm">
          Paste or edit a <code>kind: ThresholdSearch</code> document. The hub checks it as you type, the tools’ checks at both ends of the range included; nothing starts until you press Start.
        </Text>
      </div>
      {!canOperate && (
        <Alert color="gray" title="Read-only">
          Starting a threshold search needs the operator role.
        </Alert>
      )}
      <ErrorAlert hubError={hubError} />
      <Grid gutter="md">
        <Grid.Col span={{ base: 12, md: 7 }}>
          <Text size="sm" fw={500} mb={4} component="label" htmlFor="search-yaml">
            Document (YAML)
          </Text>
          <div className="yaml-editor">
            <div className="yaml-gutter" aria-hidden>
              {text.split('\n').map((_, i) => {
                const here = located.filter((x) => x.line === i + 1);
                const bad = here.length > 0 || parsed.error?.line === i + 1;
                return (
                  <div key={i} className={bad ? 'yaml-line yaml-line-bad' : 'yaml-line'} title={here.map((x) => x.message).join('\n') || undefined} data-testid={bad ? 'yaml-bad-line' : undefined} data-line={i + 1}>
                    {i + 1}
                  </div>
                );
              })}
            </div>
            <Textarea
              ref={area}
              id="search-yaml"
              value={text}
              onChange={(e) => setText(e.currentTarget.value)}
              autosize
              minRows={18}
              spellCheck={false}
              wrap="off"
              variant="unstyled"
              style={{ flex: 1, minWidth: 0 }}
              styles={{ input: { fontFamily: 'monospace', fontSize: 12, lineHeight: '18px', padding: '8px 10px', whiteSpace: 'pre', overflowX: 'auto' } }}
              aria-invalid={!!parsed.error || notMapping || located.length > 0}
              data-testid="search-yaml"
            />
          </div>
          {(parsed.error || notMapping) && (
            <Text size="xs" c="red" mt={4} role="alert">
              {parsed.error ? `line ${parsed.error.line ?? '?'}: ${parsed.error.message}` : 'the document must be a mapping (kind, name, fault, vary, …)'}
            </Text>
          )}
          <Group justify="flex-end" mt="sm">
            <Button color="orange" leftSection={<IconPlayerPlay size={16} />} onClick={onStart} loading={starting} disabled={blocked || !canOperate} data-testid="start-search">
              Start
            </Button>
          </Group>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <Stack gap="sm">
            {located.length > 0 && (
              <Paper withBorder p="sm" data-testid="search-issues">
                <Title order={5} mb={4} c="red">
                  What the hub would refuse
                </Title>
                <Stack gap={6}>
                  {located.map((i, n) => (
                    <UnstyledButton key={n} onClick={() => goTo(i.line)} data-testid="search-issue" data-field={i.field.join('.')} style={{ display: 'block' }}>
                      <Text size="sm">
                        <Text span ff="monospace" fw={600} c="red">
                          {i.field.join('.') || 'document'}
                        </Text>
                        {i.line != null && (
                          <Text span size="xs" c="dimmed">
                            {' '}
                            · line {i.line}
                          </Text>
                        )}
                      </Text>
                      <Text size="sm" style={{ wordBreak: 'break-word' }}>
                        {i.message}
                      </Text>
                    </UnstyledButton>
                  ))}
                </Stack>
              </Paper>
            )}
            <Paper withBorder p="sm">
              <Title order={5} mb={4}>
                How a search runs
              </Title>
              <List size="sm" spacing={4}>
                <List.Item>Each trial checks the SLO probes with no fault, injects the fault at one magnitude of <code>vary.param</code>, samples the probes for <code>trialSeconds</code>, recovers, and cools down.</List.Item>
                <List.Item>
                  <code>strategy: bisect</code> halves the range until the highest magnitude that held and the lowest that broke are within <code>resolution</code>; <code>linear</code> climbs by <code>step</code>.
                </List.Item>
                <List.Item>
                  Objectives are judged over each trial’s samples: <code>latencyMsP50/P90/P95/P99/Max/Mean</code>, <code>successRatio</code>, <code>valueMean</code>.
                </List.Item>
                <List.Item>A breach of a stop condition ends the whole search; nothing stays injected between trials or after an abort.</List.Item>
              </List>
            </Paper>
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}
