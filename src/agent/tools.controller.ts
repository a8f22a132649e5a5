import { BadRequestException, Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { RequireScopes } from '@agent-security/core';
import { ToolArgumentsPipe, type ToolArguments } from './tool-arguments.pipe.js';

// What MCP allows in a tool name.
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

export interface ToolResult {
  tool: string;
  result: { arguments: ToolArguments };
}

/**
 * A stand-in for the tools an agent calls (an MCP server's `tools/call`): a token needs the `agent:tools` scope,
 * checked before the call counts against the caller's rate limit.
 */
@Controller('agent/tools')
export class ToolsController {
  @RequireScopes('agent:tools')
  @Post(':name')
  @HttpCode(200)
  call(@Param('name') name: string, @Body(ToolArgumentsPipe) args: ToolArguments): ToolResult {
    if (!TOOL_NAME.test(name))
      throw new BadRequestException('Tool name must be 1 to 64 letters, digits, "_", "-" or "."');
    return { tool: name, result: { arguments: args } };
  }
}
