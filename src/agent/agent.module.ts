import { Module } from '@nestjs/common';
import { AgentController } from './agent.controller.js';
import { StandInModel } from './stand-in-model.js';
import { ToolsController } from './tools.controller.js';

@Module({ controllers: [AgentController, ToolsController], providers: [StandInModel] })
export class AgentModule {}
